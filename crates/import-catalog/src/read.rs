//! Reading a file as rows, streamed: the file's chunks are pumped from the port (S3's
//! `GetObject` body) into a blocking thread that parses them with `csv-core` (or line by line
//! for JSON lines) and hands each row on through a bounded channel. Memory holds a few chunks,
//! a few hundred rows and one row of at most [`MAX_ROW_BYTES`], whatever the file's size: a
//! longer line or record is a refused row, read past without being held.

use std::io::{self, BufRead, BufReader, Read};

use domain::PortError;
use domain::import::{
    Columns, FileError, FileVersion, ImportFormat, MAX_FILE_BYTES, MAX_ROW_BYTES, MAX_ROWS,
    ObjectKey, ProductRow, RowError, json_row,
};
use domain::ports::ImportFiles;
use domain::validation::FieldError;
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

/// A row refused for its length (`bytes`), never parsed.
fn too_long(row: u64, bytes: u64) -> Vec<RowError> {
    let message = format!("the row is {bytes} bytes; the limit is {MAX_ROW_BYTES}");
    vec![RowError::new(row, FieldError::new("row", message))]
}

/// A record of a CSV file: its fields, or how many bytes it had when that is too many.
enum Record {
    Fields(Vec<String>),
    TooLong(u64),
}

/// The records of a CSV file, read with `csv-core` into a buffer of [`MAX_ROW_BYTES`]: a
/// longer record is read to its end (quoted newlines and all) and dropped as it comes.
struct CsvRecords<R> {
    input: R,
    core: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: BufRead> CsvRecords<R> {
    fn new(input: R) -> CsvRecords<R> {
        CsvRecords {
            input,
            core: csv_core::Reader::new(),
            output: vec![0; MAX_ROW_BYTES],
            // Every field ends with a byte (its delimiter), so a record that fits the output
            // fits here too: only a record too long fills either.
            ends: vec![0; MAX_ROW_BYTES + 1],
        }
    }

    /// The next record, `None` at the end; `row` is its number, for the errors.
    fn next(&mut self, row: u64) -> Result<Option<Record>, ReadError> {
        use csv_core::ReadRecordResult::{End, InputEmpty, OutputEndsFull, OutputFull, Record};
        let (mut out, mut end, mut dropped) = (0, 0, 0u64);
        loop {
            let input = self.input.fill_buf().map_err(carried)?;
            let (result, read, written, ended) =
                self.core
                    .read_record(input, &mut self.output[out..], &mut self.ends[end..]);
            self.input.consume(read);
            (out, end) = (out + written, end + ended);
            match result {
                InputEmpty => {}
                // Too long (or too many fields): what is held is dropped, the rest read past.
                OutputFull | OutputEndsFull => {
                    dropped += out as u64;
                    (out, end) = (0, 0);
                }
                Record if dropped > 0 => {
                    return Ok(Some(self::Record::TooLong(dropped + out as u64)));
                }
                Record => return self.fields(out, end, row).map(Some),
                End => return Ok(None),
            }
        }
    }

    fn fields(&self, out: usize, end: usize, row: u64) -> Result<Record, ReadError> {
        let bytes = std::str::from_utf8(&self.output[..out])
            .map_err(|_| ReadError::File(FileError::NotUtf8(row)))?;
        let mut start = 0;
        let fields = self.ends[..end]
            .iter()
            .map(|&stop| {
                let field = bytes[start..stop].to_owned();
                start = stop;
                field
            })
            .collect();
        Ok(Record::Fields(fields))
    }
}

fn parse_csv(read: impl Read, emit: &mut Emit<'_>) -> Result<u64, ReadError> {
    let mut records = CsvRecords::new(BufReader::new(read));
    let header = match records.next(0)? {
        None => return Err(FileError::Empty.into()),
        Some(Record::TooLong(_)) => return Err(FileError::HeaderTooLong.into()),
        Some(Record::Fields(header)) => header,
    };
    if header.iter().all(String::is_empty) {
        return Err(FileError::Empty.into());
    }
    let columns = Columns::from_header(header.iter().map(String::as_str))?;
    let mut row = 0;
    while let Some(record) = records.next(row + 1)? {
        row += 1;
        match record {
            Record::TooLong(bytes) => emit(row, &|| Err(too_long(row, bytes)))?,
            Record::Fields(fields) => emit(row, &|| {
                columns.row(row, &fields.iter().map(String::as_str).collect::<Vec<_>>())
            })?,
        }
    }
    Ok(row)
}

/// Reads the next line into `line`, holding at most [`MAX_ROW_BYTES`] and its line end of it;
/// the bytes the line had, without its line end (`\n` or `\r\n`), however many were held;
/// `None` at the end of the file.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<u64>> {
    line.clear();
    let (mut bytes, mut last) = (0u64, 0u8);
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok((bytes > 0).then_some(bytes));
        }
        let newline = buffer.iter().position(|b| *b == b'\n');
        let take = newline.map_or(buffer.len(), |at| at + 1);
        let room = (MAX_ROW_BYTES + 2).saturating_sub(line.len()).min(take);
        line.extend_from_slice(&buffer[..room]);
        if let Some(at) = newline {
            let before = if at > 0 { buffer[at - 1] } else { last };
            // A `\r` before it is part of the line end (`last` is 0 at a line's start).
            let ending = if before == b'\r' { 2 } else { 1 };
            reader.consume(take);
            return Ok(Some(bytes + take as u64 - ending));
        }
        last = buffer[take - 1];
        reader.consume(take);
        bytes += take as u64;
    }
}

fn parse_jsonl(read: impl Read, emit: &mut Emit<'_>) -> Result<u64, ReadError> {
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    let mut row = 0;
    while let Some(length) = next_line(&mut reader, &mut line).map_err(carried)? {
        if length > MAX_ROW_BYTES as u64 {
            row += 1;
            emit(row, &|| Err(too_long(row, length)))?;
            continue;
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
    Ok(row)
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

    fn reader_of(chunks: Vec<Result<Vec<u8>, PortError>>) -> ChunkReader {
        let (tx, received) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            tx.try_send(chunk).unwrap();
        }
        ChunkReader {
            chunks: received,
            chunk: Vec::new(),
            at: 0,
            started: false,
        }
    }

    /// Each line's length without its line end, and the bytes held of it.
    fn lines_of(mut file: &[u8]) -> Vec<(u64, usize)> {
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while let Some(length) = next_line(&mut file, &mut line).unwrap() {
            lines.push((length, line.len()));
        }
        lines
    }

    #[test]
    fn a_line_is_measured_without_its_end_and_held_to_the_limit() {
        // Whole lines in one buffer: the byte before `\n` is this buffer's.
        assert_eq!(
            lines_of(b"ab\r\ncd\n\r\n\nxyz"),
            vec![(2, 4), (2, 3), (0, 2), (0, 1), (3, 3)]
        );
        let huge = format!("{}\r\nz\n", "h".repeat(3 * MAX_ROW_BYTES));
        let lines = lines_of(huge.as_bytes());
        assert_eq!(lines[0].0, 3 * MAX_ROW_BYTES as u64, "measured whole");
        assert_eq!(
            lines[0].1,
            MAX_ROW_BYTES + 2,
            "held to the limit and its line end"
        );
        assert_eq!(lines[1], (1, 2));
    }

    #[test]
    fn empty_chunks_are_read_past_not_taken_for_the_end() {
        // A stream may hand over an empty chunk mid-file: the file goes on after it.
        let chunks = vec![
            Ok(b"\xEF\xBB".to_vec()),
            Ok(vec![]),
            Ok(b"\xBFab".to_vec()),
            Ok(vec![]),
            Ok(b"cd".to_vec()),
        ];
        let mut text = String::new();
        reader_of(chunks).read_to_string(&mut text).unwrap();
        assert_eq!(
            text, "abcd",
            "the BOM split across chunks is dropped, the rest kept"
        );
    }

    #[test]
    fn a_port_failure_mid_file_comes_back_as_itself() {
        let failed = PortError::Permanent("GetObject: AccessDenied".into());
        let chunks = vec![Ok(b"id,name\n".to_vec()), Err(failed.clone())];
        let mut text = String::new();
        let error = reader_of(chunks).read_to_string(&mut text).unwrap_err();
        assert_eq!(
            error.to_string(),
            failed.to_string(),
            "it reads as the port's own error"
        );
        assert!(matches!(carried(error), ReadError::Port(p) if p == failed));
    }

    #[test]
    fn a_file_of_exactly_the_most_rows_is_read_and_one_more_is_refused() {
        let row = "{\"id\":\"p\"}\n";
        let total = rows_of_quickly(&row.repeat(MAX_ROWS as usize));
        assert_eq!(total.unwrap(), MAX_ROWS);
        let more = rows_of_quickly(&row.repeat(MAX_ROWS as usize + 1));
        assert!(matches!(more, Err(ReadError::File(FileError::TooManyRows))));
    }

    /// Parses JSON lines handed over whole, counting rows only (none sent).
    fn rows_of_quickly(file: &str) -> Result<u64, ReadError> {
        let (tx, _rx) = mpsc::channel(1);
        let reader = reader_of(vec![Ok(file.as_bytes().to_vec())]);
        parse(reader, ImportFormat::Jsonl, u64::MAX, &tx)
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

    #[test]
    fn a_line_or_record_too_long_is_a_refused_row_read_past() {
        let long = "x".repeat(MAX_ROW_BYTES + 10);
        let tea = "{\"id\":\"p1\",\"name\":\"Tea\",\"price\":{\"amount\":\"4.50\",\"currency\":\"EUR\"},\"stock\":3}";
        let file = format!("{tea}\n{{\"id\":\"{long}\"}}\r\n{tea}\n");
        let (total, rows) = rows_of(file.as_bytes(), ImportFormat::Jsonl);
        assert_eq!(total.unwrap(), 3);
        assert!(
            rows[0].1.is_ok() && rows[2].1.is_ok(),
            "the rows around it are read"
        );
        let refused = rows[1].1.as_ref().unwrap_err();
        let bytes = MAX_ROW_BYTES + 19;
        assert_eq!(
            refused[0].message,
            format!("the row is {bytes} bytes; the limit is 65536")
        );

        let header = "id,name,description,price_amount,price_currency,stock,available";
        let file = format!(
            "{header}\np1,Tea,\"{long}\nstill quoted\",4.50,EUR,3,true\np2,Cake,,5.00,EUR,1,true\n"
        );
        let (total, rows) = rows_of(file.as_bytes(), ImportFormat::Csv);
        assert_eq!(total.unwrap(), 2);
        assert_eq!(rows[0].0, 1);
        // The record's bytes as its fields hold them, quotes and commas aside: "p1" and "Tea"
        // (5), the long text and the 13 quoted bytes after it, then "4.50", "EUR", "3" and
        // "true" (12).
        let bytes = (MAX_ROW_BYTES + 10) + 5 + 13 + 12;
        assert_eq!(
            rows[0].1.as_ref().unwrap_err()[0].message,
            format!("the row is {bytes} bytes; the limit is 65536")
        );
        assert_eq!(
            rows[1].1.as_ref().unwrap().draft.name,
            "Cake",
            "read past it"
        );

        // Just at the limit, a line is a row like any other; one byte more, it is too long.
        for (extra, too_long) in [(0, false), (1, true)] {
            let line = format!("{{\"id\":\"{}\"}}", "y".repeat(MAX_ROW_BYTES - 9 + extra));
            assert_eq!(line.len(), MAX_ROW_BYTES + extra);
            let (_, rows) = rows_of(format!("{line}\r\n").as_bytes(), ImportFormat::Jsonl);
            let field = &rows[0].1.as_ref().unwrap_err()[0].field;
            assert_eq!(field == "row", too_long, "{} bytes", line.len());
        }
    }

    #[test]
    fn a_header_too_long_refuses_the_file() {
        let file = format!("id,{}\np1\n", "z".repeat(MAX_ROW_BYTES));
        let (result, _) = rows_of(file.as_bytes(), ImportFormat::Csv);
        assert!(matches!(
            result,
            Err(ReadError::File(FileError::HeaderTooLong))
        ));
    }
}
