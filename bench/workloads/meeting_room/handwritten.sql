-- MeetingSession (definitions/meeting_room) as a Flink expert would write it. Sorting an array of
-- ROW needs a JVM function in Flink 2.2 whoever writes the SQL, so this uses ontoc's ONTOC_SORT_ROWS
-- too. Every aggregate looks at attending tickets only, so the filter is a WHERE (pushed below the
-- join with users) rather than a FILTER clause on each aggregate.
SELECT
  m.doc_id,
  m.status = 'in-session' AS in_session,
  l.address AS address,
  CASE
    WHEN m.status = 'not-started' OR t.attending IS NULL
    THEN ARRAY_REMOVE(
      ARRAY[CAST(NULL AS ROW<name STRING, organization STRING, hearing_aid_requested BOOLEAN>)],
      CAST(NULL AS ROW<name STRING, organization STRING, hearing_aid_requested BOOLEAN>))
    WHEN t.missing_users > 0 THEN CAST(NULL AS ARRAY<ROW<name STRING, organization STRING, hearing_aid_requested BOOLEAN>>)
    ELSE ONTOC_SORT_ROWS(t.attending, TRUE)
  END AS attending,
  CASE
    WHEN m.status = 'not-started' OR t.attending IS NULL THEN 0
    WHEN t.missing_users > 0 THEN CAST(NULL AS BIGINT)
    ELSE t.hearing_aids
  END AS num_hearing_aid_requested
FROM meetings AS m
LEFT JOIN locations AS l ON l.doc_id = m.location
LEFT JOIN (
  SELECT
    tk.meeting,
    ARRAY_AGG(CAST(ROW(u.first_name || ' ' || u.last_name, u.organization, u.hearing_aid_requested)
                   AS ROW<name STRING, organization STRING, hearing_aid_requested BOOLEAN>)) AS attending,
    COUNT(*) FILTER (WHERE u.doc_id IS NULL) AS missing_users,
    COUNT(*) FILTER (WHERE u.hearing_aid_requested) AS hearing_aids
  FROM tickets AS tk
  LEFT JOIN users AS u ON u.doc_id = tk.`user`
  WHERE tk.attendance
  GROUP BY tk.meeting
) AS t ON t.meeting = m.doc_id
WHERE m.status <> 'deleted'
