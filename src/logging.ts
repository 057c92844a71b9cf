/** What may be logged about an error: its class and code, never its message (it can quote patient data). */
export function describeError(error: unknown): { type: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { type: error.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { type: typeof error };
}
