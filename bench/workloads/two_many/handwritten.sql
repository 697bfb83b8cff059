-- ProjectStats as a Flink expert would write it: one aggregate subquery per collection.
SELECT
  p.doc_id,
  p.name AS name,
  COALESCE(t.task_count, 0) AS task_count,
  COALESCE(t.open_tasks, 0) AS open_tasks,
  COALESCE(t.hours, 0.0E0) AS hours,
  COALESCE(t.top_priority, 0) AS top_priority,
  COALESCE(e.expense_count, 0) AS expense_count,
  COALESCE(e.spent, 0.0E0) AS spent,
  e.largest_expense AS largest_expense,
  COALESCE(e.categories, 0) AS categories,
  COALESCE(e.spent, 0.0E0) > p.budget AS over_budget
FROM tm_projects AS p
LEFT JOIN (
  SELECT project,
    COUNT(*) AS task_count,
    COUNT(*) FILTER (WHERE NOT done) AS open_tasks,
    SUM(hours) AS hours,
    MAX(priority) AS top_priority
  FROM tm_tasks
  GROUP BY project
) AS t ON t.project = p.doc_id
LEFT JOIN (
  SELECT project,
    COUNT(*) AS expense_count,
    SUM(amount) FILTER (WHERE approved) AS spent,
    MAX(amount) AS largest_expense,
    COUNT(DISTINCT category) AS categories
  FROM tm_expenses
  GROUP BY project
) AS e ON e.project = p.doc_id
