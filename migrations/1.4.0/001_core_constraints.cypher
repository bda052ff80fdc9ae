// Core identities of the IGN knowledge graph: every Ignition function,
// template and usage pattern is looked up by name, so names must be unique.
// Each constraint also gives Neo4j an index on the name.

CREATE CONSTRAINT function_name_unique IF NOT EXISTS
FOR (f:Function) REQUIRE f.name IS UNIQUE;

CREATE CONSTRAINT template_name_unique IF NOT EXISTS
FOR (t:Template) REQUIRE t.name IS UNIQUE;

CREATE CONSTRAINT pattern_name_unique IF NOT EXISTS
FOR (p:Pattern) REQUIRE p.name IS UNIQUE;
