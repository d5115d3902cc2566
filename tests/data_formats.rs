//! Label readers, splits and `check`: every test writes its own small fixture files
//! into a fresh folder under the system temp dir, reads them back and checks the
//! labels by hand (normalisation value and direction), the reference / distortion /
//! level parsing, the splits and the errors on bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cprl::data::check::check;
use cprl::data::formats::{self, ReadOptions, parse_scale, read_dataset, read_labels};
use cprl::data::split::{self, Ratios, SplitOptions, SplitSource, reference_disjoint};
use cprl::data::{DataError, Dataset, Sample, Split};

/// A fresh, empty folder for one test.
fn fixture_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cprl-data-formats-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn read(format: &str, labels: &Path) -> Result<Dataset, DataError> {
    read_labels(format, labels, labels.parent().unwrap(), &ReadOptions::default())
}

fn read_ok(format: &str, labels: &Path) -> Dataset {
    read(format, labels).unwrap_or_else(|e| panic!("{format}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn by_name<'a>(ds: &'a Dataset, name: &str) -> &'a Sample {
    ds.samples
        .iter()
        .find(|s| s.path == Path::new(name))
        .unwrap_or_else(|| panic!("no sample {name}"))
}

fn err_text(r: Result<Dataset, DataError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn with_scale(range: &str, lower_better: bool) -> ReadOptions {
    ReadOptions {
        scale: Some(parse_scale(range, lower_better).unwrap()),
        ..ReadOptions::default()
    }
}

// ---------------------------------------------------------------- registry

#[test]
fn unknown_format_lists_the_known_ones() {
    let dir = fixture_dir("unknown");
    let f = write(&dir, "a.csv", "name,mos\na.png,0.5\n");
    let e = read("koniq-11k", &f).unwrap_err();
    assert!(matches!(e, DataError::UnknownFormat { .. }));
    let msg = e.to_string();
    assert!(msg.contains("koniq-11k"), "{msg}");
    for f in formats::formats() {
        assert!(msg.contains(f.name), "{msg} lacks {}", f.name);
    }
    assert!(msg.contains("pyiqa-kadid10k") && msg.contains("meta"));
}

#[test]
fn labels_may_name_the_folder_of_the_usual_file() {
    let dir = fixture_dir("folder");
    write(
        &dir,
        "dmos.csv",
        "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,4.57,0.25\n",
    );
    let ds = read_labels("kadid10k", &dir, &dir, &ReadOptions::default()).unwrap();
    assert_eq!(ds.samples.len(), 1);
    assert_eq!(ds.name, "kadid10k");
}

// ---------------------------------------------------------------- meta

#[test]
fn meta_with_scale_normalises_both_directions() {
    let dir = fixture_dir("meta-scale");
    let f = write(
        &dir,
        "m.csv",
        "name,mos,std,split\na.png,1,0.2,train\nb.png,4,,test\nc.png,5,0.1,\n",
    );
    let ds = read_labels("meta", &f, &dir, &with_scale("1,5", false)).unwrap();
    assert!(close(by_name(&ds, "a.png").label, 0.0));
    assert!(close(by_name(&ds, "b.png").label, 0.75));
    assert!(close(by_name(&ds, "c.png").label, 1.0));
    assert_eq!(by_name(&ds, "a.png").std, Some(0.2));
    assert_eq!(by_name(&ds, "b.png").std, None);
    assert_eq!(by_name(&ds, "b.png").raw, 4.0);
    assert_eq!(by_name(&ds, "a.png").split, Some(Split::Train));
    assert_eq!(by_name(&ds, "c.png").split, None);

    // Lower = better (DMOS on 0..100): 20 -> 0.8.
    let f = write(&dir, "d.csv", "img_name,dmos\nx.png,20\ny.png,100\n");
    let ds = read_labels("meta", &f, &dir, &with_scale("0,100", true)).unwrap();
    assert!(close(by_name(&ds, "x.png").label, 0.8));
    assert!(close(by_name(&ds, "y.png").label, 0.0));
    assert!(!ds.scale.higher_is_better);
}

#[test]
fn meta_without_scale_takes_unit_labels_only() {
    let dir = fixture_dir("meta-unit");
    let f = write(&dir, "m.csv", "name,mos\na.png,0.25\n");
    let ds = read_ok("meta", &f);
    assert!(close(ds.samples[0].label, 0.25));
    let f = write(&dir, "n.csv", "name,mos\na.png,0.25\nb.png,3.5\n");
    let msg = err_text(read("meta", &f));
    assert!(msg.contains("n.csv:3") && msg.contains("`mos`"), "{msg}");
    assert!(
        msg.contains("3.5") && msg.contains("[0, 1]") && msg.contains("--scale"),
        "{msg}"
    );
}

#[test]
fn meta_accepts_pyiqa_generic_and_synthetic_columns() {
    let dir = fixture_dir("meta-generic");
    let f = write(
        &dir,
        "fr.csv",
        "ref_name,dist_name,mos,std\nI01.BMP,I01_01_1.bmp,0.6,0.01\n",
    );
    let ds = read_ok("meta", &f);
    let s = &ds.samples[0];
    assert_eq!(s.path, Path::new("I01_01_1.bmp"));
    assert_eq!(s.reference.as_deref(), Some("I01.BMP"));
    assert_eq!(s.std, Some(0.01));

    let f = write(
        &dir,
        "labels.csv",
        "path,reference,distortion,level,param,psnr,pseudo_mos,split\n\
         ref/p_c0.png,p_c0,pristine,0,0,99,1,train\n\
         dist/p_c0_blur_2.png,p_c0,blur,2,1.5,30,0.7,train\n",
    );
    let ds = read_ok("meta", &f);
    let s = by_name(&ds, "dist/p_c0_blur_2.png");
    assert_eq!(
        (s.distortion.as_deref(), s.level, s.label),
        (Some("blur"), Some(2), 0.7)
    );
    assert_eq!(by_name(&ds, "ref/p_c0.png").level, Some(0));
}

// ---------------------------------------------------------------- pyiqa meta files

#[test]
fn pyiqa_live_is_dmos_lower_better() {
    let dir = fixture_dir("pyiqa-live");
    let f = write(
        &dir,
        "meta_info_LIVEIQADataset.csv",
        "ref_name,dist_name,mos\nrefimgs/bikes.bmp,jp2k/img1.bmp,1\nrefimgs/bikes.bmp,wn/img7.bmp,50.5\n",
    );
    let ds = read_ok("pyiqa-live", &f);
    let a = by_name(&ds, "jp2k/img1.bmp");
    assert!(close(a.label, 1.0));
    assert!(close(by_name(&ds, "wn/img7.bmp").label, 0.5));
    assert_eq!(a.reference.as_deref(), Some("refimgs/bikes.bmp"));
    assert_eq!((a.distortion.as_deref(), a.level), (Some("jp2k"), None));
    assert_eq!(
        (ds.scale.lo, ds.scale.hi, ds.scale.higher_is_better),
        (1.0, 100.0, false)
    );
}

#[test]
fn pyiqa_csiq_parses_type_and_level() {
    let dir = fixture_dir("pyiqa-csiq");
    let f = write(
        &dir,
        "meta_info_CSIQDataset.csv",
        "ref_name,dist_name,dmos\n1600.png,1600.AWGN.1.png,0.25\n1600.png,1600.jpeg2000.5.png,1\n",
    );
    let ds = read_ok("pyiqa-csiq", &f);
    let a = by_name(&ds, "1600.AWGN.1.png");
    assert!(close(a.label, 0.75));
    assert_eq!((a.distortion.as_deref(), a.level), (Some("AWGN"), Some(1)));
    let b = by_name(&ds, "1600.jpeg2000.5.png");
    assert!(close(b.label, 0.0));
    assert_eq!((b.distortion.as_deref(), b.level), (Some("jpeg2000"), Some(5)));
}

#[test]
fn pyiqa_tid2013_keeps_std_and_parses_names() {
    let dir = fixture_dir("pyiqa-tid");
    let f = write(
        &dir,
        "meta_info_TID2013Dataset.csv",
        "ref_name,dist_name,mos,std\nI01.BMP,i01_02_3.bmp,4.5,0.13\ni25.bmp,I25_24_5.bmp,0.9,0.2\n",
    );
    let ds = read_ok("pyiqa-tid2013", &f);
    let a = by_name(&ds, "i01_02_3.bmp");
    assert!(close(a.label, 0.5));
    assert_eq!(a.std, Some(0.13));
    assert_eq!(a.reference.as_deref(), Some("I01.BMP"));
    assert_eq!((a.distortion.as_deref(), a.level), (Some("02"), Some(3)));
    let b = by_name(&ds, "I25_24_5.bmp");
    assert!(close(b.label, 0.1));
    assert_eq!((b.distortion.as_deref(), b.level), (Some("24"), Some(5)));
}

#[test]
fn pyiqa_kadid10k_dmos_is_higher_better_and_std_is_root_of_var() {
    let dir = fixture_dir("pyiqa-kadid");
    let f = write(
        &dir,
        "meta_info_KADID10kDataset.csv",
        "ref_name,dist_name,dmos,std\nI01.png,I01_02_03.png,3,0.25\nI02.png,I01_05_01.png,5,0.49\n",
    );
    let ds = read_ok("pyiqa-kadid10k", &f);
    let a = by_name(&ds, "I01_02_03.png");
    assert!(close(a.label, 0.5));
    assert!(close(a.std.unwrap(), 0.5));
    assert_eq!((a.distortion.as_deref(), a.level), (Some("02"), Some(3)));
    // The name's reference (I01) disagrees with the row's (I02): nothing is guessed.
    let b = by_name(&ds, "I01_05_01.png");
    assert!(close(b.label, 1.0));
    assert_eq!((b.distortion.as_deref(), b.level), (None, None));
}

#[test]
fn pyiqa_koniq10k_official_split_codes() {
    let dir = fixture_dir("pyiqa-koniq");
    let f = write(
        &dir,
        "meta_info_KonIQ10kDataset.csv",
        "img_name,mos,std,split,c1,c2,c3,c4,c5,c_total\n\
         10004473376.jpg,77.3836206897,0.527277894494,0,0.0,0.0,0.238,0.695,0.067,105\n\
         10007357496.jpg,100,0.58,2,0.0,0.03,0.47,0.49,0.01,96\n\
         10007903636.jpg,1,0.52,1,0.01,0.0,0.21,0.76,0.02,96\n",
    );
    let mut ds = read_ok("pyiqa-koniq10k", &f);
    let a = by_name(&ds, "10004473376.jpg");
    assert!(close(a.label, (77.3836206897 - 1.0) / 99.0));
    assert_eq!(a.std, None, "the file's std is of the 1-5 ratings");
    assert_eq!(a.split, Some(Split::Train));
    assert_eq!(by_name(&ds, "10007357496.jpg").split, Some(Split::Test));
    assert_eq!(by_name(&ds, "10007903636.jpg").split, Some(Split::Val));
    assert!(close(by_name(&ds, "10007903636.jpg").label, 0.0));
    let before: Vec<_> = ds.samples.iter().map(|s| s.split).collect();
    assert_eq!(
        split::apply(&mut ds, &SplitOptions::default()).unwrap(),
        SplitSource::Official
    );
    assert_eq!(before, ds.samples.iter().map(|s| s.split).collect::<Vec<_>>());
}

#[test]
fn pyiqa_livec_drops_the_seven_training_images() {
    let dir = fixture_dir("pyiqa-livec");
    let mut text = String::from("img_name,mos,std\n");
    for i in 1..=7 {
        text.push_str(&format!("t{i}.bmp,50,10\n"));
    }
    text.push_str("100.bmp,50.5,19.1\n1159.JPG,100,24.4\n");
    let f = write(&dir, "meta_info_LIVEChallengeDataset.csv", &text);
    let ds = read_ok("pyiqa-livec", &f);
    assert_eq!(ds.samples.len(), 2);
    assert!(close(by_name(&ds, "100.bmp").label, 0.5));
    assert_eq!(by_name(&ds, "100.bmp").std, Some(19.1));
    assert!(close(by_name(&ds, "1159.JPG").label, 1.0));
}

#[test]
fn pyiqa_spaq_reads_the_copied_xlsx_header() {
    let dir = fixture_dir("pyiqa-spaq");
    let f = write(
        &dir,
        "meta_info_SPAQDataset.csv",
        "Image name,MOS,Brightness,Colorfulness\n00001.jpg,50.5,47.43,55.57\n00002.jpg,1,55.38,67.13\n",
    );
    let ds = read_ok("pyiqa-spaq", &f);
    assert!(close(by_name(&ds, "00001.jpg").label, 0.5));
    assert!(close(by_name(&ds, "00002.jpg").label, 0.0));
}

// ---------------------------------------------------------------- files datasets ship

#[test]
fn native_kadid10k_dmos_csv() {
    let dir = fixture_dir("kadid");
    let f = write(
        &dir,
        "dmos.csv",
        "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,4.57,0.496\nI81_25_05.png,I81.png,1,0.04\n",
    );
    let ds = read_ok("kadid10k", &f);
    let a = by_name(&ds, "I01_01_01.png");
    assert!(close(a.label, (4.57 - 1.0) / 4.0));
    assert!(close(a.std.unwrap(), 0.496f64.sqrt()));
    assert_eq!(a.reference.as_deref(), Some("I01.png"));
    assert_eq!((a.distortion.as_deref(), a.level), (Some("01"), Some(1)));
    let b = by_name(&ds, "I81_25_05.png");
    assert_eq!(
        (b.distortion.as_deref(), b.level, b.label),
        (Some("25"), Some(5), 0.0)
    );
}

#[test]
fn native_tid2013_text_files() {
    let dir = fixture_dir("tid");
    let f = write(
        &dir,
        "mos_with_names.txt",
        "5.51429 I01_01_1.bmp\n4.5 i01_02_3.bmp\r\n\n0.9 i25_24_5.bmp\n",
    );
    write(&dir, "mos_std.txt", "0.13013\n0.2\n0.3\n");
    // On disk the second image is spelt with a capital I, as some TID2013 files are.
    let images = dir.join("distorted_images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("I01_02_3.bmp"), b"x").unwrap();
    let ds = read_labels("tid2013", &f, &images, &ReadOptions::default()).unwrap();
    assert_eq!(ds.samples.len(), 3);
    let a = &ds.samples[1];
    assert_eq!(a.path, Path::new("I01_02_3.bmp"));
    assert!(close(a.label, 0.5));
    assert_eq!(a.std, Some(0.2));
    assert_eq!(a.reference.as_deref(), Some("I01.BMP"));
    assert_eq!((a.distortion.as_deref(), a.level), (Some("02"), Some(3)));
    assert_eq!(ds.samples[2].reference.as_deref(), Some("i25.bmp"));
    assert!(close(ds.samples[2].label, 0.1));

    write(&dir, "mos_std.txt", "0.13013\n0.2\n");
    let msg = err_text(read_labels("tid2013", &f, &images, &ReadOptions::default()));
    assert!(
        msg.contains("mos_std.txt") && msg.contains("2 values") && msg.contains("3 rows"),
        "{msg}"
    );

    let g = write(&dir, "bad.txt", "5.1 I01_01_1.bmp\n4.5\n");
    let msg = err_text(read("tid2013", &g));
    assert!(msg.contains("bad.txt:2"), "{msg}");
}

#[test]
fn native_koniq10k_scores_file_is_on_1_to_5() {
    let dir = fixture_dir("koniq");
    let f = write(
        &dir,
        "koniq10k_scores_and_distributions.csv",
        "\"image_name\",\"c1\",\"c2\",\"c3\",\"c4\",\"c5\",\"c_total\",\"MOS\",\"SD\",\"MOS_zscore\"\n\
         \"10004473376.jpg\",0,0,25,73,7,105,3.828571429,0.527277894,77.38362069\n\
         \"x.jpg\",0,0,0,0,5,5,5,0,100\n",
    );
    let ds = read_ok("koniq10k", &f);
    let a = by_name(&ds, "10004473376.jpg");
    assert!(close(a.label, (3.828571429 - 1.0) / 4.0));
    assert_eq!(a.std, Some(0.527277894));
    assert!(close(by_name(&ds, "x.jpg").label, 1.0));
    assert!(ds.samples.iter().all(|s| s.split.is_none()));
}

#[test]
fn native_koniq10k_sets_carries_the_official_split() {
    let dir = fixture_dir("koniq-sets");
    let f = write(
        &dir,
        "koniq10k_distributions_sets.csv",
        "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set\n\
         a.jpg,0,0,0.238,0.695,0.067,105,77.38,0.53,training\n\
         b.jpg,0,0,0.238,0.695,0.067,105,50.5,0.53,validation\n\
         c.jpg,0,0,0.238,0.695,0.067,105,1,0.53,test\n",
    );
    let ds = read_ok("koniq10k-sets", &f);
    assert_eq!(by_name(&ds, "a.jpg").split, Some(Split::Train));
    assert_eq!(by_name(&ds, "b.jpg").split, Some(Split::Val));
    assert_eq!(by_name(&ds, "c.jpg").split, Some(Split::Test));
    assert!(close(by_name(&ds, "b.jpg").label, 0.5));
    assert_eq!(by_name(&ds, "a.jpg").std, None);
}

#[test]
fn native_spaq_xlsx() {
    let dir = fixture_dir("spaq");
    let path = dir.join("MOS and Image attribute scores.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Image name", "MOS", "Brightness"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let rows = [
        ("00001.jpg", 50.5, 47.43),
        ("00002.jpg", 100.0, 55.38),
        ("00003.jpg", 2.0, 62.38),
    ];
    for (r, (name, mos, b)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *name).unwrap();
        sheet.write_number(r, 1, *mos).unwrap();
        sheet.write_number(r, 2, *b).unwrap();
    }
    book.save(&path).unwrap();
    let ds = read_labels("spaq", &dir, &dir, &ReadOptions::default()).unwrap();
    assert_eq!(ds.samples.len(), 3);
    assert!(close(by_name(&ds, "00001.jpg").label, 0.5));
    assert!(close(by_name(&ds, "00002.jpg").label, 1.0));
    assert_eq!(by_name(&ds, "00003.jpg").raw, 2.0);

    // A value out of range names the spreadsheet row.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Image name").unwrap();
    sheet.write_string(0, 1, "MOS").unwrap();
    sheet.write_string(1, 0, "00001.jpg").unwrap();
    sheet.write_number(1, 1, 120.0).unwrap();
    let bad = dir.join("bad.xlsx");
    book.save(&bad).unwrap();
    let msg = err_text(read("spaq", &bad));
    assert!(
        msg.contains("bad.xlsx:2") && msg.contains("120") && msg.contains("[1, 100]"),
        "{msg}"
    );
}

#[test]
fn unreadable_spreadsheet_and_mat_files_are_clear_errors() {
    let dir = fixture_dir("binary");
    let x = write(&dir, "scores.xlsx", "this is not a zip archive");
    let e = read("spaq", &x).unwrap_err();
    assert!(matches!(e, DataError::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("scores.xlsx") && e.to_string().contains("spreadsheet"));

    let m = write(&dir, "AllMOS_release.mat", "MATLAB 5.0 MAT-file");
    let e = read("pyiqa-livec", &m).unwrap_err();
    assert!(matches!(e, DataError::Unsupported { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("AllMOS_release.mat") && msg.contains("pyiqa-livec"),
        "{msg}"
    );
    let e = read("meta", &x).unwrap_err();
    assert!(matches!(e, DataError::Unsupported { .. }), "{e:?}");
}

// ---------------------------------------------------------------- bad input

#[test]
fn missing_column_names_file_column_and_header() {
    let dir = fixture_dir("missing-col");
    let f = write(
        &dir,
        "dmos.csv",
        "dist_img,ref_img,score,var\nI01_01_01.png,I01.png,4,0.1\n",
    );
    let e = read("kadid10k", &f).unwrap_err();
    assert!(matches!(e, DataError::MissingColumn { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("dmos.csv") && msg.contains("`dmos`"), "{msg}");
    assert!(msg.contains("dist_img, ref_img, score, var"), "{msg}");

    let f = write(&dir, "m.csv", "file,quality\na.png,0.5\n");
    let msg = err_text(read("meta", &f));
    assert!(
        msg.contains("`name` or `img_name`") && msg.contains("file, quality"),
        "{msg}"
    );

    let opts = ReadOptions {
        split_column: Some("ratio802_seed123_split_01".into()),
        ..ReadOptions::default()
    };
    let f = write(&dir, "s.csv", "name,mos\na.png,0.5\n");
    let msg = err_text(read_labels("meta", &f, &dir, &opts));
    assert!(msg.contains("ratio802_seed123_split_01"), "{msg}");
}

#[test]
fn wrong_field_count_names_the_line() {
    let dir = fixture_dir("fields");
    let f = write(&dir, "m.csv", "name,mos\na.png,0.5\nb.png,0.6,extra\n");
    let e = read("meta", &f).unwrap_err();
    assert!(matches!(e, DataError::Malformed { line: Some(3), .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("m.csv:3") && msg.contains("3 fields") && msg.contains("header has 2"),
        "{msg}"
    );
}

#[test]
fn bad_scores_name_file_line_column_value_and_range() {
    let dir = fixture_dir("bad-scores");
    let cases = [
        ("abc", "`abc` is not a number"),
        ("NaN", "`NaN` is not a finite number"),
        ("inf", "`inf` is not a finite number"),
        ("-1e400", "not a finite number"),
        ("5.5", "5.5 is outside the allowed range [1, 5]"),
        ("0.99", "0.99 is outside the allowed range [1, 5]"),
        ("", "empty value"),
    ];
    for (value, want) in cases {
        let f = write(
            &dir,
            "dmos.csv",
            &format!(
                "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,3,0.1\nI01_01_02.png,I01.png,{value},0.1\n"
            ),
        );
        let e = read("kadid10k", &f).unwrap_err();
        assert!(matches!(e, DataError::BadValue { line: 3, .. }), "{value}: {e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("dmos.csv:3") && msg.contains("`dmos`") && msg.contains(want),
            "{value}: {msg}"
        );
    }
    let f = write(
        &dir,
        "v.csv",
        "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,3,-0.1\n",
    );
    let msg = err_text(read("kadid10k", &f));
    assert!(msg.contains("`var`") && msg.contains("negative"), "{msg}");
    let f = write(&dir, "s.csv", "name,mos,split\na.png,0.5,holdout\n");
    let msg = err_text(read("meta", &f));
    assert!(
        msg.contains("s.csv:2") && msg.contains("`split`") && msg.contains("holdout"),
        "{msg}"
    );
}

#[test]
fn empty_and_header_only_files_are_empty() {
    let dir = fixture_dir("empty");
    for (file, text) in [("e.csv", ""), ("h.csv", "name,mos\n"), ("b.csv", "\n\n")] {
        let f = write(&dir, file, text);
        let e = read("meta", &f).unwrap_err();
        assert!(matches!(e, DataError::Empty { .. }), "{file}: {e:?}");
        assert!(e.to_string().contains(file));
    }
    let f = write(&dir, "mos_with_names.txt", "\n");
    assert!(matches!(read("tid2013", &f), Err(DataError::Empty { .. })));
    let f = write(
        &dir,
        "meta_info_LIVEChallengeDataset.csv",
        "img_name,mos,std\nt1.bmp,50,1\n",
    );
    assert!(matches!(read("pyiqa-livec", &f), Err(DataError::Empty { .. })));
    let e = read("meta", &dir.join("absent.csv")).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
}

// ---------------------------------------------------------------- splits

/// An FR meta file: `refs` references with `per_ref` images each, rows in the
/// given order.
fn fr_meta(dir: &Path, file: &str, refs: usize, per_ref: usize, reverse: bool) -> PathBuf {
    let mut rows: Vec<String> = (0..refs)
        .flat_map(|r| {
            (0..per_ref).map(move |i| format!("r{r:03}.png,r{r:03}_{i}.png,{}", (i as f64 + 0.5) / 10.0))
        })
        .collect();
    if reverse {
        rows.reverse();
    }
    write(
        dir,
        file,
        &format!("ref_name,dist_name,mos\n{}\n", rows.join("\n")),
    )
}

fn split_of(ds: &Dataset) -> BTreeMap<PathBuf, Split> {
    ds.samples
        .iter()
        .map(|s| (s.path.clone(), s.split.unwrap()))
        .collect()
}

#[test]
fn ratio_split_is_reference_disjoint_deterministic_and_order_free() {
    let dir = fixture_dir("ratio-ref");
    let f = fr_meta(&dir, "a.csv", 40, 5, false);
    let g = fr_meta(&dir, "b.csv", 40, 5, true);
    let opts = ReadOptions::default();
    let a = read_dataset("meta", &f, &dir, &opts).unwrap();
    let again = read_dataset("meta", &f, &dir, &opts).unwrap();
    let reversed = read_dataset("meta", &g, &dir, &opts).unwrap();
    assert_eq!(split_of(&a), split_of(&again));
    assert_eq!(split_of(&a), split_of(&reversed));
    assert!(split::leaking_references(&a.samples).is_empty());
    let mut parts: BTreeMap<&str, BTreeSet<Split>> = BTreeMap::new();
    for s in &a.samples {
        parts
            .entry(s.reference.as_deref().unwrap())
            .or_default()
            .insert(s.split.unwrap());
    }
    assert!(parts.values().all(|p| p.len() == 1));
    // 200 images in groups of 5: each part within one group of its target.
    let count = |p| a.samples.iter().filter(|s| s.split == Some(p)).count() as i64;
    for (p, want) in [(Split::Train, 140), (Split::Val, 20), (Split::Test, 40)] {
        assert!((count(p) - want).abs() <= 5, "{p}: {} vs {want}", count(p));
    }
    let mut other = opts.clone();
    other.split.seed = 7;
    let b = read_dataset("meta", &f, &dir, &other).unwrap();
    assert_ne!(split_of(&a), split_of(&b));
}

#[test]
fn ratio_split_without_references_meets_the_ratios() {
    let keys: Vec<String> = (0..1000).map(|i| format!("img{i}.png")).collect();
    let parts = reference_disjoint(&keys, Ratios::default(), 123);
    let count = |p| parts.iter().filter(|&&x| x == p).count() as i64;
    assert!((count(Split::Train) - 700).abs() <= 1);
    assert!((count(Split::Val) - 100).abs() <= 1);
    assert!((count(Split::Test) - 200).abs() <= 1);
    let r = Ratios::new(0.8, 0.0, 0.2).unwrap();
    let parts = reference_disjoint(&keys, r, 1);
    assert!(!parts.contains(&Split::Val));
    assert!(Ratios::new(0.8, 0.3, 0.2).is_err());
}

#[test]
fn ratio_split_is_pinned_for_a_fixed_set_and_seed() {
    // Guards the split against a change of generator or algorithm: the same data
    // and seed must keep giving the same parts across versions.
    let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    let parts = reference_disjoint(&keys, Ratios::default(), 123);
    let code: String = parts
        .iter()
        .map(|p| match p {
            Split::Train => 'r',
            Split::Val => 'v',
            Split::Test => 'e',
        })
        .collect();
    // Parts of k0..k9 at seed 123, 0.7/0.1/0.2: r = train, v = val, e = test
    // (checked against an independent Python model of SplitMix64 + Fisher-Yates +
    // the cumulative walk).
    assert_eq!(code, "rrrrrrveer");
}

#[test]
fn official_split_is_kept_unless_told_otherwise() {
    let dir = fixture_dir("official");
    let f = write(
        &dir,
        "m.csv",
        "name,mos,split\na.png,0.1,test\nb.png,0.2,test\nc.png,0.3,val\n",
    );
    let ds = read_dataset("meta", &f, &dir, &ReadOptions::default()).unwrap();
    assert_eq!(by_name(&ds, "a.png").split, Some(Split::Test));
    assert_eq!(by_name(&ds, "c.png").split, Some(Split::Val));

    let mut ds = read_labels("meta", &f, &dir, &ReadOptions::default()).unwrap();
    let opts = SplitOptions {
        use_official: false,
        ..SplitOptions::default()
    };
    let src = split::apply(&mut ds, &opts).unwrap();
    assert!(matches!(
        src,
        SplitSource::Ratio {
            by_reference: false,
            ..
        }
    ));

    // A chosen split column, e.g. one of pyiqa's ratio columns.
    let f = write(
        &dir,
        "r.csv",
        "name,mos,split,ratio802_seed123_split_01\na.png,0.1,train,test\nb.png,0.2,train,train\n",
    );
    let opts = ReadOptions {
        split_column: Some("ratio802_seed123_split_01".into()),
        ..ReadOptions::default()
    };
    let ds = read_dataset("meta", &f, &dir, &opts).unwrap();
    assert_eq!(by_name(&ds, "a.png").split, Some(Split::Test));
}

fn four_rows(dir: &Path) -> PathBuf {
    write(
        dir,
        "m.csv",
        "name,mos\na.png,0.1\nb.png,0.2\nc.png,0.3\nd.png,0.4\ne.png,0.5\n",
    )
}

fn with_split_file(path: &Path, index: i64) -> ReadOptions {
    let mut o = ReadOptions::default();
    o.split.file = Some(path.to_path_buf());
    o.split.index = index;
    o
}

type SplitMap = BTreeMap<i64, BTreeMap<String, Vec<i64>>>;

fn pickle(dir: &Path, file: &str, value: &SplitMap) -> PathBuf {
    let bytes = serde_pickle::to_vec(value, serde_pickle::SerOptions::new()).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn parts(train: &[i64], val: &[i64], test: &[i64]) -> BTreeMap<String, Vec<i64>> {
    [("train", train), ("val", val), ("test", test)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

#[test]
fn split_pickle_written_by_serde_pickle() {
    let dir = fixture_dir("pickle");
    let f = four_rows(&dir);
    let map: SplitMap = [(1, parts(&[0, 1], &[2], &[3])), (2, parts(&[3, 4], &[], &[0]))].into();
    let p = pickle(&dir, "splits.pkl", &map);
    let ds = read_dataset("meta", &f, &dir, &with_split_file(&p, 2)).unwrap();
    let got: Vec<Option<Split>> = ds.samples.iter().map(|s| s.split).collect();
    let want = [
        Some(Split::Test),
        None,
        None,
        Some(Split::Train),
        Some(Split::Train),
    ];
    assert_eq!(got, want);
    let ds = read_dataset("meta", &f, &dir, &with_split_file(&p, 1)).unwrap();
    assert_eq!(by_name(&ds, "c.png").split, Some(Split::Val));
    assert_eq!(by_name(&ds, "e.png").split, None);
}

#[test]
fn split_pickle_in_protocol_4_as_python_writes_it() {
    // python3 -c "import pickle, sys; sys.stdout.buffer.write(pickle.dumps(
    //     {1: {'train': [0, 2], 'val': [1], 'test': [3]}}, protocol=4))"
    let bytes: &[u8] = &[
        0x80, 0x04, // PROTO 4
        0x95, 0x31, 0, 0, 0, 0, 0, 0, 0, // FRAME of 49 bytes (u64 little-endian)
        b'}', 0x94, // EMPTY_DICT (outer), MEMOIZE
        b'K', 0x01, // BININT1 1: the key
        b'}', 0x94, // EMPTY_DICT (inner), MEMOIZE
        b'(', // MARK: start of the inner dict's items
        0x8c, 5, b't', b'r', b'a', b'i', b'n', 0x94, // SHORT_BINUNICODE 'train', MEMOIZE
        b']', 0x94, // EMPTY_LIST, MEMOIZE
        b'(', b'K', 0, b'K', 2, b'e', // MARK, BININT1 0, BININT1 2, APPENDS
        0x8c, 3, b'v', b'a', b'l', 0x94, // 'val'
        b']', 0x94, b'K', 1, b'a', // [], BININT1 1, APPEND
        0x8c, 4, b't', b'e', b's', b't', 0x94, // 'test'
        b']', 0x94, b'K', 3, b'a', // [], BININT1 3, APPEND
        b'u', // SETITEMS: the three pairs since MARK into the inner dict
        b's', // SETITEM: outer[1] = inner
        b'.', // STOP
    ];
    assert_eq!(bytes.len(), 11 + 49);
    let dir = fixture_dir("pickle4");
    let f = four_rows(&dir);
    let p = dir.join("py4.pkl");
    std::fs::write(&p, bytes).unwrap();
    let file = split::read_split_file(&p).unwrap();
    assert_eq!(file, [(1, parts(&[0, 2], &[1], &[3]))].into());
    let ds = read_dataset("meta", &f, &dir, &with_split_file(&p, 1)).unwrap();
    let got: Vec<Option<Split>> = ds.samples.iter().map(|s| s.split).collect();
    assert_eq!(
        got,
        [
            Some(Split::Train),
            Some(Split::Val),
            Some(Split::Train),
            Some(Split::Test),
            None
        ]
    );
}

#[test]
fn split_pickle_errors() {
    let dir = fixture_dir("pickle-bad");
    let f = four_rows(&dir);

    let map: SplitMap = [(1, parts(&[0, 1], &[2], &[7]))].into();
    let p = pickle(&dir, "range.pkl", &map);
    let e = read_dataset("meta", &f, &dir, &with_split_file(&p, 1)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadSplitIndex {
                index: 7,
                rows: 5,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("range.pkl") && msg.contains("split 1") && msg.contains("`test`"),
        "{msg}"
    );
    assert!(msg.contains("index 7") && msg.contains("5 rows"), "{msg}");

    let map: SplitMap = [(1, parts(&[-1], &[], &[]))].into();
    let p = pickle(&dir, "neg.pkl", &map);
    let e = read_dataset("meta", &f, &dir, &with_split_file(&p, 1)).unwrap_err();
    assert!(matches!(e, DataError::BadSplitIndex { index: -1, .. }), "{e:?}");

    let e = read_dataset("meta", &f, &dir, &with_split_file(&p, 3)).unwrap_err();
    assert!(matches!(e, DataError::NoSuchSplit { .. }), "{e:?}");
    assert!(e.to_string().contains("no split `3`") && e.to_string().contains("has: 1"));

    let map: SplitMap = [(1, parts(&[0, 1], &[1], &[]))].into();
    let p = pickle(&dir, "twice.pkl", &map);
    let msg = read_dataset("meta", &f, &dir, &with_split_file(&p, 1))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("twice.pkl") && msg.contains("row 1"), "{msg}");

    let mut odd = parts(&[0], &[], &[]);
    odd.insert("holdout".into(), vec![1]);
    let p = pickle(&dir, "part.pkl", &[(1, odd)].into());
    let msg = read_dataset("meta", &f, &dir, &with_split_file(&p, 1))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("part.pkl") && msg.contains("holdout"), "{msg}");

    // Wrong structure: a list, and a dict of the wrong value type.
    let bytes = serde_pickle::to_vec(&vec![1i64, 2, 3], serde_pickle::SerOptions::new()).unwrap();
    std::fs::write(dir.join("list.pkl"), bytes).unwrap();
    let wrong: BTreeMap<i64, String> = [(1, "train".to_string())].into();
    let bytes = serde_pickle::to_vec(&wrong, serde_pickle::SerOptions::new()).unwrap();
    std::fs::write(dir.join("dict.pkl"), bytes).unwrap();
    std::fs::write(dir.join("junk.pkl"), b"not a pickle").unwrap();
    for file in ["list.pkl", "dict.pkl", "junk.pkl"] {
        let e = read_dataset("meta", &f, &dir, &with_split_file(&dir.join(file), 1)).unwrap_err();
        assert!(matches!(e, DataError::Malformed { .. }), "{file}: {e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(file) && msg.contains("not a pyiqa split file"),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------- check

#[test]
fn check_counts_missing_duplicates_and_splits() {
    let dir = fixture_dir("check");
    for name in ["a.png", "b.png"] {
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    let f = write(
        &dir,
        "m.csv",
        "name,mos,split,ref_name\na.png,0,train,r1\nb.png,1,test,r2\nc.png,0.5,val,r1\na.png,0.5,train,r3\n",
    );
    let ds = read_dataset("meta", &f, &dir, &ReadOptions::default()).unwrap();
    let s = check(&ds);
    assert_eq!(s.images, 4);
    assert_eq!(
        (s.splits.train, s.splits.val, s.splits.test, s.splits.none),
        (2, 1, 1, 0)
    );
    assert_eq!(s.missing.count, 1);
    assert_eq!(s.missing.first, ["c.png"]);
    assert_eq!(s.duplicates.count, 1);
    assert_eq!(s.duplicates.first, ["a.png"]);
    assert_eq!(s.leaking_references.first, ["r1"]);
    assert_eq!(s.references, 3);
    let l = s.label.unwrap();
    assert_eq!((l.min, l.max, l.mean), (0.0, 1.0, 0.5));
    assert!(close(l.std, (0.125f64).sqrt()));

    let text = s.to_string();
    for want in [
        "images      4",
        "train 2  val 1  test 1  none 0",
        "missing     1 (c.png)",
        "duplicates  1 (a.png)",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["images"], 4);
    assert_eq!(json["missing"]["first"][0], "c.png");
    assert_eq!(json["splits"]["train"], 2);
}

#[test]
fn check_on_a_scaled_fr_set() {
    let dir = fixture_dir("check-fr");
    let f = write(
        &dir,
        "meta_info_CSIQDataset.csv",
        "ref_name,dist_name,dmos\n1600.png,1600.AWGN.1.png,0.1\n1600.png,1600.BLUR.2.png,0.3\n",
    );
    let ds = read_dataset("pyiqa-csiq", &f, &dir, &ReadOptions::default()).unwrap();
    let s = check(&ds);
    assert_eq!((s.scale_lo, s.scale_hi, s.higher_is_better), (0.0, 1.0, false));
    assert_eq!(s.distortions, 2);
    assert_eq!(s.missing.count, 2);
    let raw = s.raw.unwrap();
    assert!(close(raw.min, 0.1) && close(raw.max, 0.3));
    let label = s.label.unwrap();
    assert!(close(label.min, 0.7) && close(label.max, 0.9));
    assert!(s.to_string().contains("lower = better"));
    // Both images share a reference: one part.
    assert_eq!(ds.samples[0].split, ds.samples[1].split);
}
