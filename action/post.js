'use strict';
// The action's post step: jitkey revoke, after a mint, whatever way the job ended.
require('./launch').launch('post').then((code) => process.exit(code));
