import { describe, expect, it } from 'vitest'
import { libp2pLogger } from '../../src/node/quiet-logger.js'

describe('libp2pLogger', () => {
  it('without DEBUG, every component and scope shares one logger that prints nothing', () => {
    const { logger } = libp2pLogger({})
    const a = logger!.forComponent('libp2p:yamux')
    expect(a.enabled).toBe(false)
    expect(a.newScope('outbound:1')).toBe(a)
    expect(logger!.forComponent('libp2p:noise')).toBe(a)
    expect(() => { a('x %s', 1); a.error('e'); a.trace('t') }).not.toThrow()
  })

  it('with DEBUG set, leaves libp2p its own logger', () => {
    expect(libp2pLogger({ DEBUG: 'libp2p:*' })).toEqual({})
  })
})
