'use strict';
// The action's main step: jitkey mint (or the command input).
require('./launch').launch('main').then((code) => process.exit(code));
