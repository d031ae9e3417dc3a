import { describe, expect, it } from 'vitest'
import { CsvError, parseCsv, toCsv } from '../../electron/lib/csv'

/** Runs `fn`, expecting a CsvError, and returns it. */
function csvError(fn: () => unknown): CsvError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CsvError)
    return error as CsvError
  }
  throw new Error('expected a CsvError')
}

function errorAt(text: string, line: number, column: number, reason: RegExp): CsvError {
  const error = csvError(() => parseCsv(text))
  expect({ line: error.line, column: error.column }).toEqual({ line, column })
  expect(error.message).toBe(`line ${line}, column ${column}: ${error.reason}`)
  expect(error.reason).toMatch(reason)
  return error
}

describe('parseCsv', () => {
  it('reads a header and rows as strings, with the line each row starts on', () => {
    expect(parseCsv('name,email,age\nAda,ada@example.org,36\nBob,bob@example.org,41\n')).toEqual({
      header: ['name', 'email', 'age'],
      rows: [
        ['Ada', 'ada@example.org', '36'],
        ['Bob', 'bob@example.org', '41'],
      ],
      lines: [2, 3],
    })
  })

  it('accepts a file without a final line break, and a header with no rows', () => {
    expect(parseCsv('a,b\n1,2')).toEqual({ header: ['a', 'b'], rows: [['1', '2']], lines: [2] })
    expect(parseCsv('a,b')).toEqual({ header: ['a', 'b'], rows: [], lines: [] })
  })

  it('strips a UTF-8 byte order mark', () => {
    expect(parseCsv('\uFEFFid,name\n1,x\n')).toEqual({
      header: ['id', 'name'],
      rows: [['1', 'x']],
      lines: [2],
    })
  })

  it('accepts LF, CRLF and CR line endings, mixed', () => {
    expect(parseCsv('a,b\r\n1,2\r3,4\n5,6\r\n')).toEqual({
      header: ['a', 'b'],
      rows: [
        ['1', '2'],
        ['3', '4'],
        ['5', '6'],
      ],
      lines: [2, 3, 4],
    })
  })

  it('unquotes fields and turns "" into a quote', () => {
    expect(parseCsv('a,b,c\n"he said ""hi""","x,y",""""\n').rows).toEqual([['he said "hi"', 'x,y', '"']])
  })

  it('keeps line breaks inside quoted fields and counts physical lines for later rows', () => {
    const table = parseCsv('a,b\n"l1\nl2",x\n"r1\r\nr2",y\n"c1\rc2",z\nlast,"w\n\n"\nend,e\n')
    expect(table.rows).toEqual([
      ['l1\nl2', 'x'],
      ['r1\r\nr2', 'y'],
      ['c1\rc2', 'z'],
      ['last', 'w\n\n'],
      ['end', 'e'],
    ])
    expect(table.lines).toEqual([2, 4, 6, 8, 11])
  })

  it('distinguishes empty quoted and unquoted fields and keeps a trailing empty field', () => {
    expect(parseCsv('a,b,c\n,"",\n1,,\n').rows).toEqual([
      ['', '', ''],
      ['1', '', ''],
    ])
  })

  it('skips entirely empty lines anywhere, including leading and trailing ones', () => {
    const table = parseCsv('\n\r\na,b\n\n1,2\r\n\r\n3,4\r\r\n\n\n')
    expect(table).toEqual({
      header: ['a', 'b'],
      rows: [
        ['1', '2'],
        ['3', '4'],
      ],
      lines: [5, 7],
    })
  })

  it('does not treat a line of spaces or an empty quoted field as blank', () => {
    expect(parseCsv('note\n  \n""\nx\n')).toEqual({
      header: ['note'],
      rows: [['  '], [''], ['x']],
      lines: [2, 3, 4],
    })
  })

  it('trims header names but never field values', () => {
    expect(parseCsv(' name ,\temail\t," quoted "\n Ada , x ," y "\n', { delimiter: ',' })).toEqual({
      header: ['name', 'email', 'quoted'],
      rows: [[' Ada ', ' x ', ' y ']],
      lines: [2],
    })
  })

  it('refuses control characters other than tab and line breaks, in a header, a field or quotes', () => {
    errorAt('na\0me,b\n1,2\n', 1, 3, /^control character U\+0000; a field may hold tab and line breaks/)
    errorAt('a,b\n1,x\u0007y\n', 2, 4, /^control character U\+0007/)
    errorAt('a,b\n1,"x\ny\u001b"\n', 3, 2, /^control character U\+001B/)
    expect(parseCsv('a,b\n1,"x\ty\r\nz"\n').rows).toEqual([['1', 'x\ty\r\nz']])
  })

  describe('delimiter', () => {
    it('sniffs tab when the header line has a tab', () => {
      expect(parseCsv('a\tb,c;d\n1\t2,3;4\n')).toEqual({
        header: ['a', 'b,c;d'],
        rows: [['1', '2,3;4']],
        lines: [2],
      })
    })

    it('sniffs ";" when the header line has ";" and no ","', () => {
      expect(parseCsv('a;b\n1,5;2\n')).toEqual({ header: ['a', 'b'], rows: [['1,5', '2']], lines: [2] })
    })

    it('sniffs "," when the header line has both "," and ";", or neither', () => {
      expect(parseCsv('a;b,c\n1;2,3\n').header).toEqual(['a;b', 'c'])
      expect(parseCsv('only\nx;y\n').rows).toEqual([['x;y']])
    })

    it('sniffs from the first non-blank line after the BOM, ignoring quoted text', () => {
      expect(parseCsv('\uFEFF\n\na;b\n1;2\n').header).toEqual(['a', 'b'])
      expect(parseCsv('"a\tb";c\n1;2\n').header).toEqual(['a\tb', 'c'])
    })

    it('uses an explicit delimiter instead of sniffing', () => {
      expect(parseCsv('a;b\n1;2\n', { delimiter: ',' })).toEqual({
        header: ['a;b'],
        rows: [['1;2']],
        lines: [2],
      })
      expect(parseCsv('a,b;c\n1,2;3\n', { delimiter: ';' }).header).toEqual(['a,b', 'c'])
      expect(parseCsv('a,b\tc\n1,2\t3\n', { delimiter: ',' }).header).toEqual(['a', 'b\tc'])
    })

    it('rejects an unsupported delimiter option', () => {
      expect(() => parseCsv('a|b', { delimiter: '|' as ',' })).toThrow(TypeError)
    })
  })

  describe('errors', () => {
    it('reports line and column in the message and as properties', () => {
      const error = errorAt('a,b\n1,x"y\n', 2, 4, /quote inside an unquoted field/)
      expect(error).toBeInstanceOf(Error)
      expect(error.name).toBe('CsvError')
      expect(error.message).toMatch(/^line 2, column 4: quote inside an unquoted field/)
    })

    it('rejects an empty file, or one with only blank lines or a BOM', () => {
      errorAt('', 1, 1, /empty.*header/)
      errorAt('\uFEFF', 1, 1, /empty.*header/)
      errorAt('\n\r\n\r\n', 1, 1, /empty.*header/)
    })

    it('rejects a quote inside an unquoted field at the quote', () => {
      errorAt('a,b\nab"c,2\n', 2, 3, /quote inside an unquoted field/)
      errorAt('a,b\n1, "y"\n', 2, 4, /quote inside an unquoted field/)
      errorAt('na"me,b\n', 1, 3, /quote inside an unquoted field/)
    })

    it('rejects text after a closing quote at that text', () => {
      errorAt('a,b\n"ab"x,2\n', 2, 5, /unexpected "x" after closing quote; expected "," or end of line/)
      errorAt('a,b\n1,"x" \n', 2, 6, /unexpected " " after closing quote/)
      errorAt('a,b\n"x";1\n', 2, 4, /unexpected ";" after closing quote; expected ","/)
      errorAt('a\tb\n"x",1\n', 2, 4, /unexpected "," after closing quote; expected tab or end of line/)
      errorAt('a,b\n"x"\u0007\n', 2, 4, /unexpected U\+0007 after closing quote/)
    })

    it('reports text after a closing quote on the physical line where it is', () => {
      errorAt('a,b\n"x\r\ny"z,1\n', 3, 3, /unexpected "z"/)
    })

    it('reports an unterminated quoted field where the quote opened', () => {
      errorAt('a,b\n1,"abc\n2,3\n', 2, 3, /unterminated quoted field/)
      errorAt('a,b\n1,2\n\n  x,"never ""closed""\n', 4, 5, /unterminated quoted field/)
      errorAt('"a,b\n', 1, 1, /unterminated quoted field/)
    })

    it('rejects duplicate header names at the repeat, after trimming', () => {
      errorAt('id,name,id\n1,2,3\n', 1, 9, /duplicate header "id" \(column 3 repeats column 1\)/)
      errorAt('id, id\n', 1, 4, /duplicate header "id"/)
      errorAt('\n\nx,"x"\n', 3, 3, /duplicate header "x"/)
    })

    it('rejects empty header names at their position', () => {
      errorAt('a,,b\n', 1, 3, /header 2 is empty/)
      errorAt('a,  ,b\n', 1, 3, /header 2 is empty/)
      errorAt('"",a\n', 1, 1, /header 1 is empty/)
      errorAt('a,b,\n', 1, 5, /header 3 is empty/)
    })

    it('rejects a row with too few fields just past its last character', () => {
      errorAt('a,b,c\n1,2\n', 2, 4, /^expected 3 fields but found 2$/)
      errorAt('a,b\r1,2\r3\r', 3, 2, /^expected 2 fields but found 1$/)
      errorAt('a,b,c\n"x\ny",2\n', 3, 5, /^expected 3 fields but found 2 \(the row starts on line 2\)$/)
    })

    it('rejects a row with too many fields at the first extra one', () => {
      errorAt('a,b\n1,2,3\n', 2, 5, /^expected 2 fields but found 3$/)
      errorAt('a,b\n1,2,\n', 2, 5, /^expected 2 fields but found 3$/)
      errorAt('a\n1,2\n', 2, 3, /^expected 1 field but found 2$/)
      errorAt('a\tb\n1\t2\t3\n', 2, 5, /^expected 2 fields but found 3$/)
      errorAt('a,b\n"1\n2",3,\n', 3, 6, /^expected 2 fields but found 3 \(the row starts on line 2\)$/)
    })

    it('counts columns in code points and ignores the BOM', () => {
      errorAt('a,b\n😀,"x"y\n', 2, 6, /unexpected "y"/)
      errorAt('\uFEFFa,a\n', 1, 3, /duplicate header "a"/)
    })
  })
})

describe('toCsv', () => {
  it('writes a header and rows ending each line with \\n; null and undefined are empty', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['1', 'x'],
          [2, null],
          [undefined, ''],
        ],
      ),
    ).toBe('a,b\n1,x\n2,\n,\n')
  })

  it('quotes fields with the delimiter, a quote, CR, LF or leading/trailing spaces', () => {
    expect(
      toCsv(
        ['v'],
        [['a,b'], ['say "hi"'], ['l1\nl2'], ['c\rr'], [' lead'], ['trail '], ['in side'], ['a;b']],
      ),
    ).toBe('v\n"a,b"\n"say ""hi"""\n"l1\nl2"\n"c\rr"\n" lead"\n"trail "\nin side\na;b\n')
  })

  it('writes TSV, quoting tabs rather than commas', () => {
    expect(toCsv(['a', 'b'], [['x,y', 'p\tq']], '\t')).toBe('a\tb\nx,y\t"p\tq"\n')
  })

  it('quotes header names holding any sniffable delimiter so the file reads back the same way', () => {
    expect(toCsv(['a\tb', 'c;d', 'e'], [])).toBe('"a\tb","c;d",e\n')
  })

  it('neutralises formula injection in strings with a leading quote', () => {
    expect(
      toCsv(['v'], [['=SUM(A1:A9)'], ['+1'], ['-1'], ['@cmd'], ['\tx'], ['\rx'], ['=1,2'], ['a=b'], ["'ok"]]),
    ).toBe("v\n'=SUM(A1:A9)\n'+1\n'-1\n'@cmd\n'\tx\n\"'\rx\"\n\"'=1,2\"\na=b\n'ok\n")
    expect(toCsv(['=cmd'], [])).toBe("'=cmd\n")
  })

  it('leaves numbers alone, negative ones included', () => {
    expect(toCsv(['n'], [[-1], [-0.5], [0], [1e21], [3.25]])).toBe('n\n-1\n-0.5\n0\n1e+21\n3.25\n')
    expect(parseCsv(toCsv(['n', 's'], [[-12, '-12']])).rows).toEqual([['-12', "'-12"]])
  })

  it('quotes an empty value in a single-column file so the row is not read as a blank line', () => {
    const text = toCsv(['only'], [[''], [null], ['x']])
    expect(text).toBe('only\n""\n""\nx\n')
    expect(parseCsv(text).rows).toEqual([[''], [''], ['x']])
  })

  it('rejects rows whose length differs from the header, an empty header and bad delimiters', () => {
    expect(() => toCsv(['a', 'b'], [['1']])).toThrow(/row 0 has 1 fields but the header has 2/)
    expect(() => toCsv([], [])).toThrow(RangeError)
    expect(() => toCsv(['a'], [], ';' as ',')).toThrow(TypeError)
  })

  describe('round trip', () => {
    const tricky = [
      '',
      ' ',
      'plain',
      'a,b',
      'a;b',
      'a\tb',
      '"',
      '""',
      'x"y"',
      'line\nbreak',
      'crlf\r\nbreak',
      'cr\rbreak',
      'ends with newline\n',
      '\n',
      ' padded ',
      'émoji 😀 and 中文',
      'a\u2028b',
      "'already quoted'",
      '#not a comment',
      '1e5',
      '\uFEFFbom inside',
    ]
    const header = ['id', 'name, full', 'semi;colon', 'tab\there', 'quote"d']
    const rows = tricky.map((value, i) => [
      String(i),
      value,
      tricky[(i + 1) % tricky.length] ?? '',
      value,
      value,
    ])

    it.each([',', '\t'] as const)('parse(toCsv(x)) === x with delimiter %j', (delimiter) => {
      const table = parseCsv(toCsv(header, rows, delimiter))
      expect(table.header).toEqual(header)
      expect(table.rows).toEqual(rows)
      expect(table.lines[0]).toBe(2)
    })

    it('round-trips a single-column file of tricky values', () => {
      const single = tricky.map((value) => [value])
      expect(parseCsv(toCsv(['v'], single)).rows).toEqual(single)
    })
  })
})
