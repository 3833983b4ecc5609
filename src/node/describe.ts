import { z } from 'zod'
import { methodOf, type ServiceDefinition } from './service.js'

export interface MethodDescription {
  name: string
  idempotent: boolean
  /** JSON Schema of the params, or null when the method takes anything (no schema). */
  params: unknown
  /** JSON Schema of the result (of each item, for a streaming method), or null. */
  result: unknown
}

export interface ServiceDescription {
  service: string
  version: string
  methods: MethodDescription[]
}

/** A service's methods with their schemas, from its definition (nothing is called). */
export function describeService (s: ServiceDefinition): ServiceDescription {
  const methods = Object.entries(s.methods ?? {}).map(([name, def]) => {
    const m = methodOf(def)
    return { name, idempotent: m.idempotent === true, params: jsonSchema(m.params), result: jsonSchema(m.result) }
  })
  return { service: s.name, version: s.version ?? '0.0.0', methods: methods.sort((a, b) => a.name.localeCompare(b.name)) }
}

function jsonSchema (schema: z.ZodType | undefined): unknown {
  if (schema === undefined) return null
  try {
    // `io: 'input'`: what a caller sends (defaults optional), not what the handler sees.
    const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
    return rest
  } catch {
    // A schema JSON Schema cannot express (a transform, a custom check): say what we can.
    return { description: 'not expressible as JSON Schema' }
  }
}

/** One line per method for a person: `name(params) [idempotent]`. */
export function describeLines (d: ServiceDescription): string {
  if (d.methods.length === 0) return `${d.service} ${d.version}: no methods`
  const lines = d.methods.map(m => `  ${m.name}(${paramsText(m.params)})${m.idempotent ? '  idempotent' : ''}`)
  return [`${d.service} ${d.version}`, ...lines].join('\n')
}

function paramsText (schema: unknown): string {
  if (schema === null || typeof schema !== 'object') return 'any'
  const s = schema as { properties?: Record<string, { type?: unknown, enum?: unknown[] }>, required?: string[] }
  if (s.properties === undefined) return typeof (schema as { type?: unknown }).type === 'string' ? String((schema as { type: string }).type) : 'any'
  const required = new Set(s.required ?? [])
  return Object.entries(s.properties).map(([k, v]) => {
    const type = Array.isArray(v.enum) ? v.enum.map(e => JSON.stringify(e)).join('|') : typeof v.type === 'string' ? v.type : Array.isArray(v.type) ? v.type.join('|') : 'any'
    return `${k}${required.has(k) ? '' : '?'}: ${type}`
  }).join(', ')
}
