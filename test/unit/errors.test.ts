import { describe, expect, it } from 'vitest'
import * as errors from '../../src/node/errors.js'
import { GdsError, fromWire, toGdsError } from '../../src/node/errors.js'

/** Every exported error class, found by what it is rather than listed by hand. */
const classes = Object.entries(errors as Record<string, unknown>)
  .filter((e): e is [string, new (...args: any[]) => GdsError] => typeof e[1] === 'function' && e[1].prototype instanceof GdsError)

describe('the error model', () => {
  it('has the classes it is expected to have', () => {
    expect(classes.length).toBeGreaterThanOrEqual(22)
  })

  it.each(classes)('fromWire rebuilds %s: same class, name, code, message, retryable, data', (name, cls) => {
    const wire = { name, code: `CODE_OF_${name}`, message: `a message for ${name}`, retryable: name.length % 2 === 0, data: { n: 1 } }
    const e = fromWire(wire)
    expect(e).toBeInstanceOf(cls)
    expect(e).toBeInstanceOf(Error)
    expect(e.toWire()).toEqual(wire)
  })

  it('keeps an unknown name as a plain GdsError carrying it', () => {
    const e = fromWire({ name: 'FromTheFutureError', code: 'FUTURE', message: 'later' })
    expect(e.constructor).toBe(GdsError)
    expect(e.name).toBe('FromTheFutureError')
    expect(e.code).toBe('FUTURE')
  })

  it('does not take a name from the prototype chain of the class table', () => {
    expect(fromWire({ name: 'constructor', code: 'X', message: 'm' }).constructor).toBe(GdsError)
    expect(fromWire({ name: '__proto__', code: 'X', message: 'm' }).constructor).toBe(GdsError)
  })

  it('turns anything else into an InternalError, code INTERNAL, keeping the cause', () => {
    const cause = new TypeError('x is not a function')
    const e = toGdsError(cause)
    expect(e.name).toBe('InternalError')
    expect(e.code).toBe('INTERNAL')
    expect(e.cause).toBe(cause)
    expect(toGdsError('a string').message).toBe('a string')
  })

  it('a round trip of a constructed error keeps its class', () => {
    const e = new errors.ServiceNotFoundError('grading')
    const back = fromWire(e.toWire())
    expect(back).toBeInstanceOf(errors.ServiceNotFoundError)
    expect(back.retryable).toBe(true)
    expect(back.message).toBe(e.message)
  })
})
