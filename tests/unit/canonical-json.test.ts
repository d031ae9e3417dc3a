import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../electron/lib/canonical-json'

/** The double whose IEEE 754 bits are `hex` (RFC 8785 appendix B gives its number tests this way). */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(`0x${hex}`))
  return view.getFloat64(0)
}

describe('canonicalJson', () => {
  it('serialises literals, strings, numbers, arrays and objects without whitespace', () => {
    expect(canonicalJson(null)).toBe('null')
    expect(canonicalJson(true)).toBe('true')
    expect(canonicalJson(false)).toBe('false')
    expect(canonicalJson(42)).toBe('42')
    expect(canonicalJson('x')).toBe('"x"')
    expect(canonicalJson([])).toBe('[]')
    expect(canonicalJson({})).toBe('{}')
    expect(canonicalJson({ a: [1, 'two', null, { b: false }], c: { d: [] } })).toBe(
      '{"a":[1,"two",null,{"b":false}],"c":{"d":[]}}',
    )
  })

  it('canonicalises objects with different key order identically', () => {
    const one = { b: 1, a: { d: [3, 1, 2], c: 'x' }, '': 0, A: true }
    const two = { A: true, a: { c: 'x', d: [3, 1, 2] }, '': 0, b: 1 }
    expect(canonicalJson(one)).toBe(canonicalJson(two))
    expect(canonicalJson(one)).toBe('{"":0,"A":true,"a":{"c":"x","d":[3,1,2]},"b":1}')
  })

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2, [2, 1]])).toBe('[3,1,2,[2,1]]')
  })

  it('sorts keys by UTF-16 code units (RFC 8785 section 3.2.3 example)', () => {
    const input: unknown = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`)
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it('sorts a surrogate pair before a higher BMP character, unlike code point order', () => {
    expect(canonicalJson({ '\uffff': 1, '😀': 2 })).toBe('{"😀":2,"\uffff":1}')
  })

  it('matches the RFC 8785 section 3.2.2 example', () => {
    const input: unknown = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`)
    expect(canonicalJson(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    )
  })

  it('escapes strings as JSON.stringify does', () => {
    const s = '\b\f\n\r\t\u0000\u001f"\\/\u007f\u2028\u2029é😀'
    expect(canonicalJson(s)).toBe(JSON.stringify(s))
    expect(canonicalJson(s)).toBe('"\\b\\f\\n\\r\\t\\u0000\\u001f\\"\\\\/\u007f\u2028\u2029é😀"')
    expect(canonicalJson({ 'k\n"': 1 })).toBe('{"k\\n\\"":1}')
  })

  it.each([
    [1e21, '1e+21'],
    [1e-7, '1e-7'],
    [0.000001, '0.000001'],
    // The RFC's input literal has more digits than a double holds; parse it as a reader would.
    [Number('333333333.33333329'), '333333333.3333333'],
    [-0, '0'],
    [1e20, '100000000000000000000'],
    [-1.5, '-1.5'],
    [0.1 + 0.2, '0.30000000000000004'],
  ])('writes the number %s as %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected)
    expect(canonicalJson([value])).toBe(`[${expected}]`)
  })

  it('writes -0 as 0 inside objects too', () => {
    expect(canonicalJson({ z: -0 })).toBe('{"z":0}')
  })

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('formats the double 0x%s as %s (RFC 8785 appendix B)', (hex, expected) => {
    expect(canonicalJson(double(hex))).toBe(expected)
  })

  it.each(['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000'])(
    'rejects the non-finite double 0x%s (RFC 8785 appendix B)',
    (hex) => {
      expect(() => canonicalJson(double(hex))).toThrow(/is not a JSON number/)
    },
  )

  it('is idempotent through JSON.parse', () => {
    const value = { z: [1.5, 'é', { y: null, x: [true] }], a: '\u2028', m: 1e-7 }
    const once = canonicalJson(value)
    expect(canonicalJson(JSON.parse(once))).toBe(once)
  })

  it('omits undefined object members, as JSON.stringify does', () => {
    expect(canonicalJson({ a: 1, b: undefined, c: { d: undefined } })).toBe('{"a":1,"c":{}}')
  })

  it('accepts null-prototype objects and shared (non-cyclic) references', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 2, a: 1 })
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}')
    const shared = { x: 1 }
    expect(canonicalJson({ p: shared, q: [shared, shared] })).toBe('{"p":{"x":1},"q":[{"x":1},{"x":1}]}')
  })

  describe('rejects what JSON cannot represent, naming where', () => {
    it('undefined at the top level or in an array, including holes', () => {
      expect(() => canonicalJson(undefined)).toThrow(
        'canonicalJson: undefined at $ cannot be represented in JSON',
      )
      expect(() => canonicalJson({ a: [1, undefined] })).toThrow('undefined at $.a[1]')
      // eslint-disable-next-line no-sparse-arrays
      expect(() => canonicalJson([1, , 3])).toThrow('undefined at $[1]')
    })

    it('functions and symbols anywhere, and symbol keys', () => {
      expect(() => canonicalJson(() => 1)).toThrow('function at $')
      expect(() => canonicalJson([() => 1])).toThrow('function at $[0]')
      expect(() => canonicalJson({ f() {} })).toThrow('function at $.f')
      expect(() => canonicalJson(Symbol('s'))).toThrow('symbol at $')
      expect(() => canonicalJson({ 'odd key': Symbol('s') })).toThrow('symbol at $["odd key"]')
      expect(() => canonicalJson({ [Symbol('k')]: 1 })).toThrow('object at $ has symbol keys')
    })

    it('NaN and Infinity', () => {
      expect(() => canonicalJson(NaN)).toThrow('NaN at $ is not a JSON number')
      expect(() => canonicalJson({ a: { b: [Infinity] } })).toThrow(
        'Infinity at $.a.b[0] is not a JSON number',
      )
      expect(() => canonicalJson(-Infinity)).toThrow('-Infinity at $ is not a JSON number')
    })

    it('BigInt', () => {
      expect(() => canonicalJson({ n: 10n })).toThrow('BigInt at $.n is not supported')
    })

    it('Dates, telling the caller to convert them to ISO strings', () => {
      expect(() => canonicalJson({ at: new Date(0) })).toThrow(
        'Date at $.at; convert it to an ISO 8601 string first (date.toISOString())',
      )
    })

    it('Maps, Sets, class instances and boxed primitives', () => {
      class Point {
        constructor(readonly x: number) {}
      }
      expect(() => canonicalJson(new Map())).toThrow('Map at $ is not a plain object or array')
      expect(() => canonicalJson([new Set([1])])).toThrow('Set at $[0] is not a plain object or array')
      expect(() => canonicalJson({ p: new Point(1) })).toThrow('Point at $.p is not a plain object or array')
      expect(() => canonicalJson(Object('s'))).toThrow('String at $ is not a plain object or array')
      expect(() => canonicalJson(new Uint8Array(1))).toThrow('Uint8Array at $')
    })

    it('cycles', () => {
      const loop: Record<string, unknown> = { a: 1 }
      loop['self'] = loop
      expect(() => canonicalJson(loop)).toThrow('canonicalJson: cycle at $.self')
      const list: unknown[] = []
      list.push({ back: list })
      expect(() => canonicalJson(list)).toThrow('cycle at $[0].back')
    })

    it('strings with lone surrogates, which are not valid Unicode', () => {
      expect(() => canonicalJson({ s: 'a\ud800b' })).toThrow('lone UTF-16 surrogate')
      expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow('lone UTF-16 surrogate')
      expect(canonicalJson('\ud83d\ude00')).toBe('"😀"')
    })
  })
})
