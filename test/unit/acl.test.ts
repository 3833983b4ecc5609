import { describe, expect, it } from 'vitest'
import { mayProvide, parseAcl } from '../../src/services/registry/acl.js'

const A = '12D3KooWQdwDx1UXooUv9r7tbxbQbuvN9EvrgVkkNDYk1jaFzWRw'
const B = '12D3KooWAfZSP9DhHzW44yNJUduMSD7sLtci5MEMnboqdVmVPsxV'

describe('acl: who may provide a name', () => {
  it('a listed name admits only its peers; "*" as a name covers every other name', () => {
    const acl = parseAcl(JSON.stringify({ grading: [A], '*': ['*'] }), 'acl.json')
    expect(mayProvide(acl, 'grading', A)).toBe(true)
    expect(mayProvide(acl, 'grading', B)).toBe(false)
    expect(mayProvide(acl, 'log', B)).toBe(true)
  })

  it('a name matching nothing is refused; no ACL is open', () => {
    const acl = parseAcl(JSON.stringify({ grading: [A], log: ['*'] }), 'acl.json')
    expect(mayProvide(acl, 'webui', A)).toBe(false)
    expect(mayProvide(acl, 'log', B)).toBe(true)
    expect(mayProvide(parseAcl('{}', 'acl.json'), 'log', A)).toBe(false)
    expect(mayProvide(undefined, 'grading', B)).toBe(true)
  })

  it('a bad file is one InvalidConfigError naming the file and what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      ['{', /not JSON/],
      ['[]', /must be a JSON object/],
      ['{"Bad Name": ["*"]}', /"Bad Name" is not a service name/],
      ['{"grading": "*"}', /value of "grading" must be a list/],
      ['{"grading": [1]}', /holds 1, not a peer id/],
      ['{"grading": ["12D3KooWnope"]}', /"12D3KooWnope", which is not a peer id/]
    ]
    for (const [text, why] of cases) {
      let err: any
      try { parseAcl(text, '/etc/gds/acl.json') } catch (e) { err = e }
      expect(err?.name, text).toBe('InvalidConfigError')
      expect(err.message, text).toMatch(/^ACL file \/etc\/gds\/acl\.json: /)
      expect(err.message, text).toMatch(why)
      expect(err.message).not.toMatch(/\n/)
    }
  })
})
