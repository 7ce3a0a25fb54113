'use strict';
// The action's post step: jitkey-post (jitkey revoke in a binary of its own),
// after a mint, whatever way the job ended.
require('./launch').launch('post').then((code) => process.exit(code));
