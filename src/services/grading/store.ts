/**
 * Students and grades in SQLite (better-sqlite3). WAL with synchronous=FULL: a change is
 * acknowledged only once it is on disk. Several grading instances on one host may share the
 * file (busy_timeout waits for the writer). Schema changes are numbered migrations applied
 * in a transaction and recorded in PRAGMA user_version.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { NotFoundError } from '../../node/errors.js'

export const GRADE_TYPES = ['quiz', 'test', 'exam', 'homework'] as const
export type GradeType = typeof GRADE_TYPES[number]

export interface Grade { id: number, title: string, type: GradeType, score: number, createdAt: number }
export interface StudentSummary { id: number, firstName: string, lastName: string, average: number | null, gradeCount: number }
export interface Student extends StudentSummary { grades: Grade[] }

const MIGRATIONS: string[] = [
  `CREATE TABLE students (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     first_name TEXT NOT NULL,
     last_name TEXT NOT NULL
   );
   CREATE TABLE grades (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
     title TEXT NOT NULL,
     type TEXT NOT NULL CHECK (type IN ('quiz', 'test', 'exam', 'homework')),
     score REAL NOT NULL CHECK (score >= 0 AND score <= 100),
     created_at INTEGER NOT NULL
   );
   CREATE INDEX grades_by_student ON grades(student_id);`
]

/** The seeds' classic class, written on first start only. */
const SAMPLE: Array<[string, string, Array<[string, GradeType, number]>]> = [
  ['Eugene', 'Krabs', [['Quiz 1', 'quiz', 85], ['Week 1 Homework', 'homework', 94], ['Test 1', 'test', 89]]],
  ['Sheldon', 'Plankton', [['Quiz 1', 'quiz', 82], ['Week 1 Homework', 'homework', 100], ['Test 1', 'test', 73]]],
  ['Bob', 'Squarepants', [['Quiz 1', 'quiz', 93], ['Week 1 Homework', 'homework', 98], ['Test 1', 'test', 91]]],
  ['Patrick', 'Star', [['Quiz 1', 'quiz', 58], ['Week 1 Homework', 'homework', 74], ['Test 1', 'test', 61]]],
  ['Sandy', 'Cheeks', [['Quiz 1', 'quiz', 99], ['Week 1 Homework', 'homework', 100], ['Test 1', 'test', 97]]]
]

export class GradeStore {
  private readonly db: Database.Database

  constructor (path: string, private readonly now: () => number = Date.now) {
    mkdirSync(dirname(path), { recursive: true })
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma('busy_timeout = 5000')
    this.db.pragma('foreign_keys = ON')
    this.migrate()
    this.seed(now())
  }

  close (): void {
    this.db.close()
  }

  listStudents (): StudentSummary[] {
    return this.db.prepare(`
      SELECT s.id, s.first_name AS firstName, s.last_name AS lastName,
             ROUND(AVG(g.score), 1) AS average, COUNT(g.id) AS gradeCount
      FROM students s LEFT JOIN grades g ON g.student_id = s.id
      GROUP BY s.id ORDER BY s.last_name, s.first_name, s.id`).all() as StudentSummary[]
  }

  getStudent (id: number): Student {
    const s = this.db.prepare(`
      SELECT s.id, s.first_name AS firstName, s.last_name AS lastName,
             ROUND(AVG(g.score), 1) AS average, COUNT(g.id) AS gradeCount
      FROM students s LEFT JOIN grades g ON g.student_id = s.id WHERE s.id = ? GROUP BY s.id`).get(id) as StudentSummary | undefined
    if (s === undefined) throw new NotFoundError(`no student with id ${id}`)
    const grades = this.db.prepare('SELECT id, title, type, score, created_at AS createdAt FROM grades WHERE student_id = ? ORDER BY id').all(id) as Grade[]
    return { ...s, grades }
  }

  addStudent (firstName: string, lastName: string): StudentSummary {
    const r = this.db.prepare('INSERT INTO students (first_name, last_name) VALUES (?, ?)').run(firstName, lastName)
    return { id: Number(r.lastInsertRowid), firstName, lastName, average: null, gradeCount: 0 }
  }

  removeStudent (id: number): void {
    if (this.db.prepare('DELETE FROM students WHERE id = ?').run(id).changes === 0) throw new NotFoundError(`no student with id ${id}`)
  }

  addGrade (studentId: number, title: string, type: GradeType, score: number): Grade {
    return this.db.transaction(() => {
      this.requireStudent(studentId)
      const createdAt = this.now()
      const r = this.db.prepare('INSERT INTO grades (student_id, title, type, score, created_at) VALUES (?, ?, ?, ?, ?)').run(studentId, title, type, score, createdAt)
      return { id: Number(r.lastInsertRowid), title, type, score, createdAt }
    }).immediate()
  }

  removeGrade (studentId: number, gradeId: number): void {
    this.db.transaction(() => {
      this.requireStudent(studentId)
      if (this.db.prepare('DELETE FROM grades WHERE id = ? AND student_id = ?').run(gradeId, studentId).changes === 0) {
        throw new NotFoundError(`student ${studentId} has no grade with id ${gradeId}`)
      }
    }).immediate()
  }

  private requireStudent (id: number): void {
    if (this.db.prepare('SELECT 1 FROM students WHERE id = ?').get(id) === undefined) throw new NotFoundError(`no student with id ${id}`)
  }

  private migrate (): void {
    this.db.transaction(() => {
      const version = this.db.pragma('user_version', { simple: true }) as number
      for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v])
      if (version < MIGRATIONS.length) this.db.pragma(`user_version = ${MIGRATIONS.length}`)
    }).immediate()
  }

  /** Only into an empty table, inside one write transaction, so two instances starting at once seed once. */
  private seed (now: number): void {
    this.db.transaction(() => {
      const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM students').get() as { n: number }
      if (n > 0) return
      const student = this.db.prepare('INSERT INTO students (first_name, last_name) VALUES (?, ?)')
      const grade = this.db.prepare('INSERT INTO grades (student_id, title, type, score, created_at) VALUES (?, ?, ?, ?, ?)')
      for (const [first, last, grades] of SAMPLE) {
        const id = student.run(first, last).lastInsertRowid
        for (const [title, type, score] of grades) grade.run(id, title, type, score, now)
      }
    }).immediate()
  }
}
