import { describe, expect, it } from 'vitest'
import { Admission, hostOf } from '../../src/node/admission.js'
import { describeDialError } from '../../src/node/client.js'

describe('admission of inbound connections', () => {
  it('caps pending upgrades per host; other hosts keep their room; done frees a slot once', () => {
    const a = new Admission<string>(2)
    expect(a.admit('a1', '10.0.0.1')).toBe(true)
    expect(a.admit('a2', '10.0.0.1')).toBe(true)
    expect(a.admit('a3', '10.0.0.1')).toBe(false)
    expect(a.admit('b1', '10.0.0.2')).toBe(true)
    expect(a.pendingOf('10.0.0.1')).toBe(2)
    a.done('a1')
    a.done('a1')
    expect(a.pendingOf('10.0.0.1')).toBe(1)
    expect(a.admit('a3', '10.0.0.1')).toBe(true)
    // The same connection asked twice counts once.
    expect(a.admit('a3', '10.0.0.1')).toBe(true)
    a.done('a2'); a.done('a3'); a.done('b1'); a.done('never-admitted')
    expect(a.pendingOf('10.0.0.1')).toBe(0)
    expect(a.pendingOf('10.0.0.2')).toBe(0)
  })

  it('a flood of connections from one host never grows past the cap', () => {
    const a = new Admission<number>(64)
    let admitted = 0
    for (let i = 0; i < 10_000; i++) if (a.admit(i, '127.0.0.2')) admitted++
    expect(admitted).toBe(64)
    expect(a.admit(-1, '127.0.0.1')).toBe(true)
  })

  it('takes the host from a multiaddr', () => {
    expect(hostOf('/ip4/127.0.0.2/tcp/4001')).toBe('127.0.0.2')
    expect(hostOf('/ip6/::1/tcp/4001')).toBe('::1')
    expect(hostOf('/unix/x')).toBe('/unix/x')
  })
})

describe('dial errors say what happened', () => {
  it('a reset before we sent anything is a refusal at the door, not a swarm key', () => {
    const msg = describeDialError(new Error('connection error 127.0.0.1:4001: connect ECONNRESET 127.0.0.1:4001'), false)
    expect(msg).toMatch(/refused the connection at once: it is at its limit of connections waiting for their handshake/)
    expect(msg).not.toMatch(/swarm key/)
  })

  it('a timeout names overload as well as the swarm key; a later reset names a refusal as well', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })
    expect(describeDialError(timeout, true)).toMatch(/overloaded with connections waiting for their handshake.*another private network \(another swarm key: check --swarm-key\)/)
    expect(describeDialError(timeout, false)).toMatch(/overloaded.*this command has none: pass --swarm-key/)
    const reset = Object.assign(new Error('read ECONNRESET'), { name: 'EncryptionFailedError' })
    expect(describeDialError(reset, true)).toMatch(/^the handshake failed \(.*swarm key.*; or the registry refused the connection/)
    expect(describeDialError(Object.assign(new Error('Missing newline'), { name: 'EncryptionFailedError' }), false)).not.toMatch(/refused/)
  })
})
