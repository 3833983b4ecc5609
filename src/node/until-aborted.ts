/** The items until `signal` aborts: the error a stream cut short that way ends with is not one. */
export async function * untilAborted<T> (items: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  try {
    yield * items
  } catch (err) {
    if (!signal.aborted) throw err
  }
}
