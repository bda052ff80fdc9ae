// Browsing the graph filters functions by category (tag, db, util, ...),
// templates by category, and usage patterns by their type.

CREATE INDEX function_category IF NOT EXISTS
FOR (f:Function) ON (f.category);

CREATE INDEX template_category IF NOT EXISTS
FOR (t:Template) ON (t.category);

CREATE INDEX pattern_type IF NOT EXISTS
FOR (p:Pattern) ON (p.pattern_type);
