// The provider of the rpc benchmark, run as a real process: gds node start --role ./bench/echo-service.js
import { z } from 'zod'
import { defineMethod, defineService } from '../dist/index.js'

export default defineService({
  name: 'echo',
  methods: {
    say: defineMethod({ params: z.object({ n: z.number() }), idempotent: true, handler: ({ n }) => ({ n }) })
  }
})
