// 1.5.0 ranks suggestions by how often a function is used, and records
// learning sessions, each identified by its id.

CREATE INDEX function_usage_count IF NOT EXISTS
FOR (f:Function) ON (f.usage_count);

CREATE CONSTRAINT session_id_unique IF NOT EXISTS
FOR (s:Session) REQUIRE s.id IS UNIQUE;

// Functions are grouped by module from 1.5.0 on.
CREATE INDEX function_module IF NOT EXISTS
FOR (f:Function) ON (f.module);
