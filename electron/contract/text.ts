/** Text people type or files bring: free of the control characters no one types (a NUL byte in a name breaks every listing and PDF that shows it). */

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d

/** Whether a character code is a C0 control other than tab and the line breaks. */
export const isControlCode = (code: number): boolean =>
  code < 0x20 && code !== TAB && code !== LF && code !== CR

/** The first control character in `text` (tab and line breaks aside), as `U+0000`; undefined when none. */
export function controlCharacterIn(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (isControlCode(code)) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
  }
  return undefined
}
