// Stands in for optional modules the browser bundle leaves out (`when`:
// autobahn falls back to native promises when requiring it throws).
throw new Error('not available in the browser bundle');
