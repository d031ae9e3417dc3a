/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one exact byte sequence per JSON value, for hashing
 * and signing. Keys are sorted by UTF-16 code units, there is no whitespace, strings are escaped and
 * numbers formatted exactly as ECMAScript `JSON.stringify` does (which is what JCS specifies).
 *
 * Anything that JSON cannot represent faithfully is rejected rather than silently changed, so that
 * two parties never sign different documents believing them equal.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function describe(value: object): string {
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== null && typeof proto === 'object' && 'constructor' in proto) {
    const ctor: unknown = proto.constructor
    if (typeof ctor === 'function' && ctor.name) return ctor.name
  }
  return 'object with a custom prototype'
}

function serialiseString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new Error(`canonicalJson: string at ${path} contains a lone UTF-16 surrogate, which JCS forbids`)
  }
  return JSON.stringify(value)
}

function serialise(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value, path)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) {
        throw new Error(`canonicalJson: ${String(value)} at ${path} is not a JSON number`)
      }
      // JSON.stringify implements ECMAScript Number::toString, and already writes -0 as 0.
      return JSON.stringify(value)
    case 'bigint':
      throw new Error(
        `canonicalJson: BigInt at ${path} is not supported; convert it to a string or a safe number`,
      )
    case 'symbol':
      throw new Error(`canonicalJson: symbol at ${path} cannot be represented in JSON`)
    case 'function':
      throw new Error(`canonicalJson: function at ${path} cannot be represented in JSON`)
    case 'undefined':
      throw new Error(`canonicalJson: undefined at ${path} cannot be represented in JSON`)
  }
  if (value === null) return 'null'
  const object = value as object
  if (ancestors.has(object)) throw new Error(`canonicalJson: cycle at ${path}`)

  if (Array.isArray(object)) {
    ancestors.add(object)
    const items: string[] = []
    for (let i = 0; i < object.length; i++) {
      items.push(serialise(object[i] as unknown, `${path}[${i}]`, ancestors))
    }
    ancestors.delete(object)
    return `[${items.join(',')}]`
  }

  if (object instanceof Date) {
    throw new Error(
      `canonicalJson: Date at ${path}; convert it to an ISO 8601 string first (date.toISOString())`,
    )
  }
  const proto: unknown = Object.getPrototypeOf(object)
  if (proto !== Object.prototype && proto !== null) {
    throw new Error(
      `canonicalJson: ${describe(object)} at ${path} is not a plain object or array; convert it to one first`,
    )
  }
  if (
    Object.getOwnPropertySymbols(object).some((s) => Object.prototype.propertyIsEnumerable.call(object, s))
  ) {
    throw new Error(`canonicalJson: object at ${path} has symbol keys, which JSON cannot represent`)
  }

  ancestors.add(object)
  const record = object as Record<string, unknown>
  const members: string[] = []
  // Default sort compares UTF-16 code units, exactly as RFC 8785 section 3.2.3 requires.
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member === undefined) continue
    const memberPath = keyPath(path, key)
    members.push(`${serialiseString(key, memberPath)}:${serialise(member, memberPath, ancestors)}`)
  }
  ancestors.delete(object)
  return `{${members.join(',')}}`
}

/**
 * Serialises `value` per RFC 8785. Object members whose value is `undefined` are omitted, as
 * `JSON.stringify` does; everything else that JSON cannot represent throws an `Error` naming where
 * it is (`$`, `$.a[0]`, …): `undefined` at the top level or in an array, functions, symbols, BigInt,
 * NaN and ±Infinity, Dates, Maps, Sets, class instances, lone surrogates and cycles.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, '$', new Set())
}
