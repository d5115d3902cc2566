//! A label table: a header and rows that keep their line numbers, read from a CSV
//! file, a whitespace-separated text file or the first sheet of a spreadsheet. Every
//! format reader goes through it, so every reader reports bad input the same way:
//! file, line (1-based, header = line 1, or the spreadsheet's row number), column
//! and value.

use std::path::{Path, PathBuf};

use crate::data::error::DataResult;
use crate::data::{DataError, Scale, Split};

/// One data row and the line (or spreadsheet row) it came from.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A header plus data rows, all fields as text (trimmed).
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub file: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

/// Score tolerance for range checks: values this close outside `[lo, hi]` (relative
/// to `hi - lo`) are taken as rounding, not as an error.
const RANGE_TOLERANCE: f64 = 1e-9;

impl Table {
    /// Reads a headered CSV file (comma separated, `"` quoting, surrounding spaces
    /// trimmed, blank lines skipped). A row whose field count differs from the
    /// header's is a [`DataError::Malformed`] naming its line; an empty file or a
    /// header without rows is [`DataError::Empty`].
    pub fn read_csv(path: &Path) -> DataResult<Table> {
        refuse_binary(path)?;
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(std::io::BufReader::new(file));
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(clean_header)
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(empty(path, "the file is empty"));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(path, e))?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            rows.push(Row {
                line,
                fields: record.iter().map(str::to_string).collect(),
            });
        }
        Table::new(path, header, rows)
    }

    /// Reads a text file without header whose lines hold `header.len()` fields
    /// separated by whitespace (TID2013's `mos_with_names.txt`). Blank lines are
    /// skipped; a line with another number of fields is [`DataError::Malformed`].
    pub fn read_whitespace(path: &Path, header: &[&str]) -> DataResult<Table> {
        refuse_binary(path)?;
        let text = read_text(path)?;
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let fields: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            if fields.is_empty() {
                continue;
            }
            if fields.len() != header.len() {
                return Err(DataError::Malformed {
                    file: path.into(),
                    line: Some(i + 1),
                    why: format!(
                        "{} fields, expected {} ({})",
                        fields.len(),
                        header.len(),
                        header.join(" ")
                    ),
                });
            }
            rows.push(Row { line: i + 1, fields });
        }
        if rows.is_empty() {
            return Err(empty(path, "the file has no data lines"));
        }
        let header = header.iter().map(|h| h.to_string()).collect();
        Ok(Table {
            file: path.into(),
            header,
            rows,
        })
    }

    /// Reads the first sheet of a spreadsheet (xlsx, xlsm, xlsb, xls, ods) through
    /// calamine: its first non-empty row is the header, and each row keeps its
    /// spreadsheet row number as its line. Numbers become their shortest decimal
    /// text, which parses back to the same value.
    pub fn read_spreadsheet(path: &Path) -> DataResult<Table> {
        use calamine::Reader;
        std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
        let unreadable = |e: &dyn std::fmt::Display| DataError::Malformed {
            file: path.into(),
            line: None,
            why: format!("not a readable spreadsheet: {e}"),
        };
        let mut book = calamine::open_workbook_auto(path).map_err(|e| unreadable(&e))?;
        let range = match book.worksheet_range_at(0) {
            Some(range) => range.map_err(|e| unreadable(&e))?,
            None => return Err(empty(path, "the workbook has no sheet")),
        };
        let first_row = range.start().map_or(0, |(r, _)| r as usize);
        let mut cells = range
            .rows()
            .enumerate()
            .map(|(i, row)| (first_row + i + 1, row.iter().map(cell_text).collect::<Vec<_>>()))
            .filter(|(_, fields)| fields.iter().any(|f| !f.is_empty()));
        let Some((_, header)) = cells.next() else {
            return Err(empty(path, "the first sheet is empty"));
        };
        let header = header.iter().map(|h| clean_header(h)).collect();
        let rows = cells.map(|(line, fields)| Row { line, fields }).collect();
        Table::new(path, header, rows)
    }

    fn new(path: &Path, header: Vec<String>, rows: Vec<Row>) -> DataResult<Table> {
        if rows.is_empty() {
            return Err(empty(path, "no data rows (only a header)"));
        }
        Ok(Table {
            file: path.into(),
            header,
            rows,
        })
    }

    /// Index of the first column whose header equals one of `names` (case-insensitive).
    pub fn find(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.header.iter().position(|h| h.eq_ignore_ascii_case(n)))
    }

    /// Like [`Table::find`], but a missing column is a [`DataError::MissingColumn`]
    /// naming the accepted names and the header found.
    pub fn column(&self, names: &[&str]) -> DataResult<usize> {
        self.find(names).ok_or_else(|| DataError::MissingColumn {
            file: self.file.clone(),
            column: names.join("` or `"),
            found: self.header.join(", "),
        })
    }

    /// A bad-value error at `row`, column `col`.
    pub fn bad(&self, row: &Row, col: usize, why: String) -> DataError {
        DataError::BadValue {
            file: self.file.clone(),
            line: row.line,
            column: self.header[col].clone(),
            why,
        }
    }

    /// The text of a field, which must not be empty.
    pub fn text<'r>(&self, row: &'r Row, col: usize) -> DataResult<&'r str> {
        let s = row.fields[col].as_str();
        if s.is_empty() {
            return Err(self.bad(row, col, "empty value".into()));
        }
        Ok(s)
    }

    /// A finite number.
    pub fn number(&self, row: &Row, col: usize) -> DataResult<f64> {
        let s = self.text(row, col)?;
        let v: f64 = s
            .parse()
            .map_err(|_| self.bad(row, col, format!("value `{s}` is not a number")))?;
        if !v.is_finite() {
            return Err(self.bad(row, col, format!("value `{s}` is not a finite number")));
        }
        Ok(v)
    }

    /// A finite number, or `None` for an empty field.
    pub fn opt_number(&self, row: &Row, col: Option<usize>) -> DataResult<Option<f64>> {
        match col {
            Some(c) if !row.fields[c].is_empty() => self.number(row, c).map(Some),
            _ => Ok(None),
        }
    }

    /// A raw score that must lie in `[scale.lo, scale.hi]`.
    pub fn score(&self, row: &Row, col: usize, scale: &Scale) -> DataResult<f64> {
        let v = self.number(row, col)?;
        let slack = RANGE_TOLERANCE * (scale.hi - scale.lo).abs();
        if v < scale.lo - slack || v > scale.hi + slack {
            let dir = if scale.higher_is_better { "higher" } else { "lower" };
            return Err(self.bad(
                row,
                col,
                format!(
                    "value {v} is outside the allowed range [{}, {}] ({dir} = better); \
                     pass --scale lo,hi if the file uses another range",
                    scale.lo, scale.hi
                ),
            ));
        }
        Ok(v)
    }

    /// A non-negative standard deviation, or the square root of a non-negative
    /// variance when `is_variance`; `None` for a missing column or an empty field.
    pub fn spread(&self, row: &Row, col: Option<usize>, is_variance: bool) -> DataResult<Option<f64>> {
        let Some(c) = col else { return Ok(None) };
        let Some(v) = self.opt_number(row, Some(c))? else {
            return Ok(None);
        };
        if v < 0.0 {
            return Err(self.bad(row, c, format!("value {v} is negative")));
        }
        Ok(Some(if is_variance { v.sqrt() } else { v }))
    }

    /// A split name: `train`/`training`, `val`/`valid`/`validation`, `test`/`testing`
    /// (any case), or pyiqa's KonIQ codes `0` = train, `1` = val, `2` = test
    /// (`scripts/process_koniq10k.py`); `None` for an empty field.
    pub fn split(&self, row: &Row, col: Option<usize>) -> DataResult<Option<Split>> {
        let Some(c) = col else { return Ok(None) };
        let s = row.fields[c].as_str();
        if s.is_empty() {
            return Ok(None);
        }
        let code = match s {
            "0" => Some(Split::Train),
            "1" => Some(Split::Val),
            "2" => Some(Split::Test),
            _ => Split::parse(s),
        };
        code.map(Some).ok_or_else(|| {
            self.bad(
                row,
                c,
                format!("split `{s}` is none of train, val, test (or 0, 1, 2)"),
            )
        })
    }

    /// A distortion level: a whole number (1 = mildest; 0 = pristine, as cprl's
    /// synthetic set writes for its reference crops), or `None` for an empty field.
    pub fn level(&self, row: &Row, col: Option<usize>) -> DataResult<Option<u32>> {
        let Some(c) = col else { return Ok(None) };
        let s = row.fields[c].as_str();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<u32>()
            .map(Some)
            .map_err(|_| self.bad(row, c, format!("level `{s}` is not a whole number >= 0")))
    }
}

/// A header cell without surrounding spaces or a UTF-8 byte-order mark.
fn clean_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_string()
}

fn empty(path: &Path, why: &str) -> DataError {
    DataError::Empty {
        file: path.into(),
        why: why.into(),
    }
}

/// The whole file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> DataResult<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| DataError::Malformed {
        file: path.into(),
        line: None,
        why: format!("not UTF-8 text ({e})"),
    })
}

/// A spreadsheet cell as text: numbers in their shortest round-trip form.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// A csv crate error as a data error: field-count mismatches and bad encoding name
/// their line.
fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line() as usize);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => DataError::io(path, io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => DataError::Malformed {
            file: path.into(),
            line,
            why: format!("{len} fields, but the header has {expected_len}"),
        },
        csv::ErrorKind::Utf8 { err, .. } => DataError::Malformed {
            file: path.into(),
            line,
            why: format!("not UTF-8 text ({err})"),
        },
        other => DataError::Malformed {
            file: path.into(),
            line,
            why: format!("{other:?}"),
        },
    }
}

/// Label files that are MATLAB or spreadsheet files given to a text reader get a
/// clear [`DataError::Unsupported`] instead of an encoding error.
fn refuse_binary(path: &Path) -> DataResult<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let why = match ext.as_deref() {
        Some("mat") => super::MAT_ADVICE,
        Some("xlsx" | "xls" | "xlsm" | "xlsb" | "ods") => {
            "a spreadsheet given to a text format; use format `spaq` for SPAQ's \
             `MOS and Image attribute scores.xlsx`, or save the sheet as CSV for `meta`"
        }
        _ => return Ok(()),
    };
    Err(DataError::Unsupported {
        file: path.into(),
        why: why.into(),
    })
}
