// Each query must return exactly one row with a boolean column `ok` that is true.

// Every system.* function got its module.
MATCH (f:Function)
WHERE f.name STARTS WITH 'system.' AND f.module IS NULL
RETURN count(f) = 0 AS ok;

// Every function has a usage counter.
MATCH (f:Function)
WHERE f.usage_count IS NULL
RETURN count(f) = 0 AS ok;

// Session ids are unique (what the new constraint enforces).
MATCH (s:Session)
WITH s.id AS id, count(*) AS sessions
WHERE sessions > 1
RETURN count(id) = 0 AS ok;
