import type { Grade, Student, StudentSummary } from '../services/grading/store.js'
import { table } from './format.js'

/** Calls the grading service, turning "no provider" into a sentence about grading. */
export async function callGrading<T> (client: { call: <R>(s: string, m: string, p?: unknown, o?: object) => Promise<R> }, method: string, params: object, idempotent: boolean): Promise<T> {
  try {
    return await client.call<T>('grading', method, params, { idempotent })
  } catch (err: any) {
    // A bare `node start --role grading` would open a database of its own: point at the cluster's.
    if (err?.name === 'ServiceNotFoundError') err.message = 'no grading service is up (start the cluster: gds cluster up; see its members: gds cluster status)'
    throw err
  }
}

const avg = (a: number | null): string => a === null ? '-' : a.toFixed(1)

export function studentsTable (students: StudentSummary[]): string {
  if (students.length === 0) return 'no students'
  return table(['ID', 'NAME', 'AVERAGE', 'GRADES'], students.map(s => [String(s.id), `${s.firstName} ${s.lastName}`, avg(s.average), String(s.gradeCount)]))
}

export function studentView (s: Student): string {
  const head = `${s.firstName} ${s.lastName} (id ${s.id})  average ${avg(s.average)}`
  if (s.grades.length === 0) return `${head}\nno grades yet`
  return `${head}\n${table(['GRADE', 'TITLE', 'TYPE', 'SCORE'], s.grades.map((g: Grade) => [String(g.id), g.title, g.type, String(g.score)]))}`
}
