// Our router's CLI from the TypeScript sources (through tsx), for when
// router/dist is missing or older than router/src. Same as
// `node router/bin/clawgate-router.js` without the dist shortcut.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../../router/src/cli.ts');
await main(process.argv);
