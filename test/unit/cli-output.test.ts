import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { GdsCommand } from '../../src/cli/base.js'
import { Feed, jsonLine } from '../../src/cli/output.js'
import { InvalidParamsError, RegistryUnreachableError } from '../../src/node/errors.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Found { count: number, names: string[] }

class Answer extends GdsCommand<Found> {
  async run (): Promise<Found> {
    await this.parse(Answer)
    return { count: 2, names: ['a', 'b'] }
  }

  protected override render (r: Found): string {
    return `${r.count} found\n${r.names.join(', ')}`
  }
}

class Contract extends GdsCommand<Found> {
  async run (): Promise<Found> {
    await this.parse(Contract)
    return { count: 1, names: ['a'] }
  }

  protected override toJson (r: Found): unknown {
    return { total: r.count }
  }
}

class Items extends GdsCommand<Feed<number>> {
  async run (): Promise<Feed<number>> {
    await this.parse(Items)
    return new Feed(async emit => {
      emit(1)
      emit(2)
      this.log('a note for people')
      emit(3)
    }, n => n === 2 ? undefined : `item ${n}`)
  }
}

class Unreachable extends GdsCommand<Found> {
  async run (): Promise<Found> {
    await this.parse(Unreachable)
    throw new RegistryUnreachableError('cannot reach the registry at /ip4/127.0.0.1/tcp/9')
  }
}

class FailsMidway extends GdsCommand<Feed<string>> {
  async run (): Promise<Feed<string>> {
    await this.parse(FailsMidway)
    return new Feed(async emit => {
      emit('first')
      throw new InvalidParamsError('bad input')
    }, s => s)
  }
}

describe('GdsCommand prints what its commands return', () => {
  let stdout: string[]
  let stderr: string[]
  beforeEach(() => {
    stdout = []
    stderr = []
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => { stdout.push(String(chunk)); return true })
    // oclif's own printing goes through console.log.
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => { stdout.push(`${String(line)}\n`) })
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => { stderr.push(String(line)) })
  })
  afterEach(() => { vi.restoreAllMocks() })

  it('a result: one compact JSON line under --json, the render otherwise, in one write', async () => {
    expect(await Answer.run(['--json'], ROOT)).toEqual({ count: 2, names: ['a', 'b'] })
    expect(stdout).toEqual(['{"count":2,"names":["a","b"]}\n'])
    stdout.length = 0
    await Answer.run([], ROOT)
    expect(stdout).toEqual(['2 found\na, b\n'])
  })

  it('toJson maps the result to its script contract; the default render is the JSON line', async () => {
    await Contract.run(['--json'], ROOT)
    await Contract.run([], ROOT)
    expect(stdout).toEqual(['{"total":1}\n', '{"count":1,"names":["a"]}\n'])
  })

  it('a feed: a line per item (the render may skip one), notes for people only, in order', async () => {
    await Items.run([], ROOT)
    expect(stdout.join('')).toBe('item 1\na note for people\nitem 3\n')
    stdout.length = 0
    await Items.run(['--json'], ROOT)
    expect(stdout.join('')).toBe('1\n2\n3\n')
  })

  it('an error: exit 2 for an unreachable registry, one line on stderr or one JSON object on stdout', async () => {
    await expect(Unreachable.run([], ROOT)).rejects.toMatchObject({ oclif: { exit: 2 } })
    expect(stdout).toEqual([])
    expect(stderr).toEqual(['Error: cannot reach the registry at /ip4/127.0.0.1/tcp/9'])
    stderr.length = 0
    await expect(Unreachable.run(['--json'], ROOT)).rejects.toMatchObject({ oclif: { exit: 2 } })
    expect(stderr).toEqual([])
    expect(JSON.parse(stdout.join(''))).toEqual({ error: { name: 'RegistryUnreachableError', code: 'REGISTRY_UNREACHABLE', message: 'cannot reach the registry at /ip4/127.0.0.1/tcp/9', retryable: true } })
  })

  it('an error in the middle of a feed: what came before is printed first, then exit 1', async () => {
    await expect(FailsMidway.run(['--json'], ROOT)).rejects.toMatchObject({ oclif: { exit: 1 } })
    expect(stdout.join('').split('\n')).toEqual(['"first"', '{"error":{"name":"InvalidParamsError","code":"INVALID_PARAMS","message":"bad input","retryable":false}}', ''])
  })

  it('jsonLine keeps what a method that returns nothing has always printed', () => {
    expect(jsonLine(undefined)).toBe('undefined')
    expect(jsonLine({ a: [1, 'x'] })).toBe('{"a":[1,"x"]}')
  })
})
