/** `npm install` step: writes the PGlite data-directory template (see src/db/pglite-template.ts). */
import { existsSync } from 'node:fs';
import { templatePath, writeTemplate } from '../src/db/pglite-template.ts';

if (!existsSync(templatePath())) {
  console.log(`pglite template written to ${await writeTemplate()}`);
}
