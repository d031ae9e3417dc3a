/**
 * Imports a tabular dataset from CSV / TSV text already in memory (tests, fixtures, benches): the
 * strict reader of lib/csv feeding the row-by-row builder of ./tabular. Files are imported as a
 * stream by ./sources instead, through the same two.
 */
import { sha256Hex } from '../../lib/digest'
import { LetheError } from '../../contract/errors'
import { CsvError, CsvReader } from '../../lib/csv'
import { baseName, type Dataset } from './dataset'
import { TabularBuilder, type TabularImportOptions } from './tabular'

export type { ColumnMapping } from './tabular'
export type CsvImportOptions = TabularImportOptions

/** The error for a CSV syntax error, which happens before fields exist: `column` is a character position. */
export function csvSyntaxError(file: string, error: CsvError): LetheError {
  const name = baseName(file)
  return new LetheError('BAD_INPUT', `${name}: line ${error.line}, column ${error.column}: ${error.reason}`, {
    file: name,
    line: error.line,
    column: error.column,
    columnName: null,
  })
}

/**
 * Feeds CSV / TSV pieces to a builder made once the header is read (its delimiter says CSV or TSV);
 * syntax errors come out as BAD_INPUT errors with their line and column.
 */
export function csvFeeder(
  file: string,
  builder: (format: 'csv' | 'tsv') => TabularBuilder,
): { push: (piece: string) => void; end: () => void; builder: () => TabularBuilder } {
  let built: TabularBuilder | undefined
  const reader: CsvReader = new CsvReader({
    onHeader: (names, line) => {
      built = builder(reader.delimiter === '\t' ? 'tsv' : 'csv')
      built.header(names, { at: (l) => `line ${l}`, header: `line ${line}`, headerLine: line })
    },
    onRow: (fields, line) => built?.row(fields, line),
  })
  const guard = (step: () => void) => {
    try {
      step()
    } catch (error) {
      throw error instanceof CsvError ? csvSyntaxError(file, error) : error
    }
  }
  return {
    push: (piece) => guard(() => reader.push(piece)),
    end: () => guard(() => reader.end()),
    builder: () => {
      if (!built) throw new Error('the CSV reader saw no header')
      return built
    },
  }
}

export function importCsvDataset(text: string, options: CsvImportOptions): Dataset {
  const feeder = csvFeeder(options.file, (format) => new TabularBuilder(format, options))
  feeder.push(text)
  feeder.end()
  // The hash is of the UTF-8 text; for a file read as UTF-8 that is the file's own bytes.
  return feeder.builder().finish(sha256Hex(new TextEncoder().encode(text)))
}
