import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Etcd3 } from 'etcd3'
import { openEtcd } from '../../src/services/registry/store/etcd-client.js'
import { ETCD_BIN, TestEtcd } from '../helpers/etcd.js'

describe.skipIf(ETCD_BIN === undefined)('the registry\'s etcd client (real etcd)', () => {
  const etcd = new TestEtcd()
  let client: Etcd3
  beforeAll(async () => {
    await etcd.start()
    client = openEtcd([etcd.endpoint])
  }, 60_000)
  afterAll(async () => {
    client?.close()
    await etcd.stop()
  })

  it('calls etcd again as soon as it answers after a stall that timed calls out (no circuit left open)', async () => {
    await client.put('gds/test/stall').value('before')
    etcd.pause()
    try {
      // Three timed-out calls in a row: etcd3's default breaker then refused every call for 5 s.
      for (let i = 0; i < 3; i++) await expect(client.get('gds/test/stall').string()).rejects.toThrow(/deadline/i)
    } finally {
      etcd.resume()
    }
    await client.put('gds/test/stall').value('after')
    expect(await client.get('gds/test/stall').string()).toBe('after')
  }, 60_000)
})
