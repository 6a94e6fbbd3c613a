//! Reading a file as rows, streamed: the file's chunks are pumped from the port (S3's
//! `GetObject` body) into a blocking thread that parses them with the `csv` crate (or line by
//! line for JSON lines) and hands each row on through a bounded channel. Memory holds a few
//! chunks and a few hundred rows, whatever the file's size.

use std::io::{self, BufRead, BufReader, Read};

use domain::PortError;
use domain::import::{
    Columns, FileError, FileVersion, ImportFormat, MAX_FILE_BYTES, MAX_ROWS, ObjectKey, ProductRow,
    RowError, json_row,
};
use domain::ports::ImportFiles;
use tokio::sync::mpsc;

/// Chunks in flight between the port and the parser.
const CHUNKS_IN_FLIGHT: usize = 4;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One row of the file: its number, and the product it names or why it is refused.
pub type Parsed = (u64, Result<ProductRow, Vec<RowError>>);

/// Why a file could not be read to its end.
#[derive(Debug)]
pub enum ReadError {
    /// The file is refused as a whole: the import fails with this reason.
    File(FileError),
    /// The store failed (or the rows' consumer stopped): the delivery is retried.
    Port(PortError),
}

impl From<FileError> for ReadError {
    fn from(e: FileError) -> ReadError {
        ReadError::File(e)
    }
}

/// The port's failure, carried through `std::io` to the parser and back.
#[derive(Debug)]
struct Carried(PortError);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Carried {}

fn carried(e: io::Error) -> ReadError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Carried>())
    {
        Some(Carried(port)) => ReadError::Port(port.clone()),
        None => ReadError::Port(PortError::Transient(format!("reading the file: {e}"))),
    }
}

/// The chunks, as a `Read` for the parser (on a blocking thread), without the UTF-8 BOM that
/// spreadsheets put first.
struct ChunkReader {
    chunks: mpsc::Receiver<Result<Vec<u8>, PortError>>,
    chunk: Vec<u8>,
    at: usize,
    started: bool,
}

impl ChunkReader {
    /// The next non-empty chunk into `self.chunk`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        loop {
            match self.chunks.blocking_recv() {
                None => return Ok(false),
                Some(Err(e)) => return Err(io::Error::other(Carried(e))),
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                    return Ok(true);
                }
            }
        }
    }

    /// Drops a leading BOM, even one split across chunks.
    fn skip_bom(&mut self) -> io::Result<()> {
        self.started = true;
        let mut head = Vec::with_capacity(UTF8_BOM.len());
        while head.len() < UTF8_BOM.len() && self.refill()? {
            head.extend_from_slice(&self.chunk);
        }
        let skip = if head.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        self.chunk = head;
        self.at = skip;
        Ok(())
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.skip_bom()?;
        }
        if self.at == self.chunk.len() && !self.refill()? {
            return Ok(0);
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Hands each row from `from_row` on (earlier rows are only counted) to `rows`; the number of
/// rows in the file. Stops early, with a port error, if `rows` is closed.
fn parse(
    read: impl Read,
    format: ImportFormat,
    from_row: u64,
    rows: &mpsc::Sender<Parsed>,
) -> Result<u64, ReadError> {
    let mut emit = |row: u64, parsed: &dyn Fn() -> Result<ProductRow, Vec<RowError>>| {
        if row > MAX_ROWS {
            return Err(ReadError::File(FileError::TooManyRows));
        }
        if row >= from_row && rows.blocking_send((row, parsed())).is_err() {
            return Err(ReadError::Port(PortError::Transient(
                "the import stopped reading".to_owned(),
            )));
        }
        Ok(())
    };
    match format {
        ImportFormat::Csv => parse_csv(read, &mut emit),
        ImportFormat::Jsonl => parse_jsonl(read, &mut emit),
    }
}

type Emit<'a> =
    dyn FnMut(u64, &dyn Fn() -> Result<ProductRow, Vec<RowError>>) -> Result<(), ReadError> + 'a;

fn csv_error(e: csv::Error, row: u64) -> ReadError {
    if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
        return ReadError::File(FileError::NotUtf8(row));
    }
    let detail = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(e) => carried(e),
        _ => ReadError::File(FileError::Malformed(ImportFormat::Csv, detail)),
    }
}

fn parse_csv(read: impl Read, emit: &mut Emit<'_>) -> Result<u64, ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(read);
    let header = reader.headers().map_err(|e| csv_error(e, 0))?;
    if header.is_empty() {
        return Err(FileError::Empty.into());
    }
    let columns = Columns::from_header(header.iter())?;
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(e, row + 1))?
    {
        row += 1;
        emit(row, &|| {
            columns.row(row, &record.iter().collect::<Vec<_>>())
        })?;
    }
    Ok(row)
}

fn parse_jsonl(read: impl Read, emit: &mut Emit<'_>) -> Result<u64, ReadError> {
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    let mut row = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(carried)? == 0 {
            return Ok(row);
        }
        let text = std::str::from_utf8(&line).map_err(|_| FileError::NotUtf8(row + 1))?;
        let text = text.trim_end_matches(['\n', '\r']);
        // Blank lines (a trailing one, most often) are not rows.
        if text.trim().is_empty() {
            continue;
        }
        row += 1;
        emit(row, &|| json_row(row, text))?;
    }
}

/// Reads the upload `version` of the file under `key` to its end: each row from `from_row` on
/// goes to `rows`; the number of rows in the file. The bytes are counted as they come: past
/// [`MAX_FILE_BYTES`] the file is refused, whatever its size was said to be.
pub async fn read_rows(
    files: &dyn ImportFiles,
    key: &ObjectKey,
    version: &FileVersion,
    from_row: u64,
    rows: mpsc::Sender<Parsed>,
) -> Result<u64, ReadError> {
    let mut body = files.open(key, version).await.map_err(ReadError::Port)?;
    let (chunks, received) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let format = key.format;
    let parser = tokio::task::spawn_blocking(move || {
        let reader = ChunkReader {
            chunks: received,
            chunk: Vec::new(),
            at: 0,
            started: false,
        };
        parse(reader, format, from_row, &rows)
    });
    let pump = async move {
        let mut bytes = 0u64;
        loop {
            let chunk = match body.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(()),
                Err(e) => {
                    let _ = chunks.send(Err(e)).await;
                    return Ok(());
                }
            };
            bytes += chunk.len() as u64;
            if bytes > MAX_FILE_BYTES {
                return Err(ReadError::File(FileError::TooLarge(bytes)));
            }
            if chunks.send(Ok(chunk)).await.is_err() {
                return Ok(()); // The parser stopped; it says why.
            }
        }
    };
    let (pumped, parsed) = tokio::join!(pump, parser);
    pumped?;
    parsed.map_err(|e| ReadError::Port(PortError::Permanent(format!("the parser: {e}"))))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(bytes: &[u8], format: ImportFormat) -> (Result<u64, ReadError>, Vec<Parsed>) {
        let (tx, mut rx) = mpsc::channel(1000);
        let (chunks, received) = mpsc::channel(bytes.len().max(1));
        // One byte a chunk: a BOM or a record split anywhere must not matter.
        for b in bytes {
            chunks.try_send(Ok(vec![*b])).unwrap();
        }
        drop(chunks);
        let reader = ChunkReader {
            chunks: received,
            chunk: Vec::new(),
            at: 0,
            started: false,
        };
        let result = parse(reader, format, 1, &tx);
        drop(tx);
        let mut rows = Vec::new();
        while let Ok(row) = rx.try_recv() {
            rows.push(row);
        }
        (result, rows)
    }

    #[test]
    fn csv_with_a_bom_crlf_and_quoted_newlines() {
        let file = "\u{feff}id,name,description,price_amount,price_currency,stock,available\r\n\
                    p1,Tea,\"two\nlines\",4.50,EUR,3,true\r\n\
                    p2,,x,4.5,EUR,3,true\r\n";
        let (total, rows) = rows_of(file.as_bytes(), ImportFormat::Csv);
        assert_eq!(total.unwrap(), 2);
        assert_eq!(rows[0].1.as_ref().unwrap().draft.description, "two\nlines");
        let errors = rows[1].1.as_ref().unwrap_err();
        assert_eq!(errors[0].row, 2);
        assert_eq!(errors[0].field, "name");
        assert_eq!(errors[1].field, "price_amount");
    }

    #[test]
    fn whole_file_refusals() {
        let (header_only, _) = rows_of(b"id,name\n", ImportFormat::Csv);
        assert!(matches!(
            header_only,
            Err(ReadError::File(FileError::MissingColumn("price_amount")))
        ));
        let (empty, _) = rows_of(b"", ImportFormat::Csv);
        assert!(matches!(empty, Err(ReadError::File(FileError::Empty))));
        let latin1 = b"id,name,price_amount,price_currency,stock\np1,Caf\xe9,1.00,EUR,1\n";
        let (not_utf8, _) = rows_of(latin1, ImportFormat::Csv);
        assert!(matches!(
            not_utf8,
            Err(ReadError::File(FileError::NotUtf8(1)))
        ));
        let (not_utf8, _) = rows_of(b"{}\n{\"a\":\"\xff\"}\n", ImportFormat::Jsonl);
        assert!(matches!(
            not_utf8,
            Err(ReadError::File(FileError::NotUtf8(2)))
        ));
    }

    #[test]
    fn json_lines_skip_blank_lines_and_report_bad_ones() {
        let file = "{\"id\":\"p1\",\"name\":\"Tea\",\"price\":{\"amount\":\"4.50\",\"currency\":\"EUR\"},\"stock\":3}\r\n\
                    \r\n\
                    not json\n";
        let (total, rows) = rows_of(file.as_bytes(), ImportFormat::Jsonl);
        assert_eq!(total.unwrap(), 2);
        assert!(rows[0].1.is_ok());
        assert_eq!(rows[1].0, 2);
        assert_eq!(rows[1].1.as_ref().unwrap_err()[0].field, "row");
    }
}
