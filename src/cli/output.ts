import { safeJson, safeLines } from '../node/safe-text.js'

/** How a person reads a value: its text for stdout, or undefined for nothing. Pure. */
export type Render<T> = (value: T) => string | undefined

/**
 * Items a command yields as they happen (a node's events, log entries, watch messages): each is
 * one line on stdout, its JSON under --json, else what `render` makes of it.
 */
export class Feed<I> {
  constructor (
    /** Hands each item to `emit` as it comes; resolves when there are no more. */
    readonly produce: (emit: (item: I) => void) => Promise<void>,
    readonly render: Render<I>
  ) {}

  /** The items of an async iterable, as it yields them. */
  static of<I> (items: AsyncIterable<I>, render: Render<I>): Feed<I> {
    return new Feed(async emit => {
      for await (const item of items) emit(item)
    }, render)
  }
}

/**
 * A value as one line of JSON: what stdout carries under --json. A method that returns nothing
 * has always printed `undefined` (JSON.stringify's answer for it), so it still does.
 */
export function jsonLine (value: unknown): string {
  return safeJson(String(JSON.stringify(value)))
}

/**
 * A line for stdout: JSON as it is, human text neutralised (names and messages come from peers),
 * or nothing for undefined.
 */
export function outputLine (text: string | undefined, json: boolean): string | undefined {
  return text === undefined || json ? text : safeLines(text)
}

/** Pushes each item of a feed as it comes: its JSON line under --json, else its rendering. */
export async function printFeed<I> (feed: Feed<I>, json: boolean, push: (line: string) => void): Promise<void> {
  const render = json ? jsonLine : feed.render
  await feed.produce(item => {
    const line = outputLine(render(item), json)
    if (line !== undefined) push(line)
  })
}
