// Functions imported before 1.5.0 have no module. For Ignition's scripting
// functions the module is the second part of the name:
// system.tag.readBlocking belongs to module 'tag'.
// Only unset modules are filled in, so running this twice changes nothing.

MATCH (f:Function)
WHERE f.module IS NULL AND f.name STARTS WITH 'system.'
SET f.module = split(f.name, '.')[1];

// Counters were optional before 1.5.0; ranking needs a number on every function.
MATCH (f:Function)
WHERE f.usage_count IS NULL
SET f.usage_count = 0;
