import { PGlite } from '@electric-sql/pglite';
let t0=Date.now();
const db = await PGlite.create();
console.log('first', Date.now()-t0); t0=Date.now();
const db2 = await PGlite.create();
console.log('second', Date.now()-t0); t0=Date.now();
const c = await db.clone(); console.log('clone', Date.now()-t0);
