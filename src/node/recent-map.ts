/**
 * A Map that keeps at most `max` entries: `set` makes an entry the newest, and the oldest goes
 * when there are too many. Per-peer memory that peers (or a hostile one) could otherwise grow.
 */
export class RecentMap<K, V> extends Map<K, V> {
  constructor (private readonly max: number) { super() }

  override set (key: K, value: V): this {
    super.delete(key)
    super.set(key, value)
    if (this.size > this.max) super.delete(this.keys().next().value as K)
    return this
  }
}
