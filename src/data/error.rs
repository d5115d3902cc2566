//! Errors of the data layer. Each names the file, and where it applies the line
//! (1-based, header = line 1) and the column, so a user can fix the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// File system error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A label file lacks a column the format needs.
    #[error("{}: missing column `{column}` (the header has: {found})", file.display())]
    MissingColumn {
        file: PathBuf,
        column: String,
        found: String,
    },
    /// A value that cannot be used (not a number, NaN, out of the dataset's range).
    #[error("{}:{line}: column `{column}`: {why}", file.display())]
    BadValue {
        file: PathBuf,
        line: usize,
        column: String,
        why: String,
    },
    /// A malformed file (wrong number of fields, bad encoding, unreadable workbook).
    #[error("{}{}: {why}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        file: PathBuf,
        line: Option<usize>,
        why: String,
    },
    /// A dataset format name that is not known.
    #[error("unknown dataset format `{name}`; known formats: {}", known.join(", "))]
    UnknownFormat { name: String, known: Vec<String> },
    /// A dataset with no usable image.
    #[error("{}: {why}", file.display())]
    Empty { file: PathBuf, why: String },
    /// An image that cannot be decoded or is too large.
    #[error("{}: {why}", path.display())]
    Image { path: PathBuf, why: String },
    /// A file kind or content that cprl cannot read (with what to do instead).
    #[error("{}: {why}", file.display())]
    Unsupported { file: PathBuf, why: String },
    /// A split file that has no split of the requested index.
    #[error("{}: no split `{index}` (the file has: {})", file.display(), available.join(", "))]
    NoSuchSplit {
        file: PathBuf,
        index: String,
        available: Vec<String>,
    },
    /// A split file that names a row the label file does not have.
    #[error(
        "{}: split {split}, part `{part}`: row index {index} is out of range (the labels have {rows} rows, 0..{rows})",
        file.display()
    )]
    BadSplitIndex {
        file: PathBuf,
        split: String,
        part: String,
        index: i64,
        rows: usize,
    },
    /// Anything else, said in words.
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DataError {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type DataResult<T> = std::result::Result<T, DataError>;
