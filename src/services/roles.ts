/** Built-in roles a user can name with --role (a module of its own: `node start --help` reads it without loading the roles). */
export const BUILT_IN_ROLES = ['registry', 'service', 'log', 'grading', 'webui'] as const
