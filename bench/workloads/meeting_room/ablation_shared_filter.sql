-- The emitted SQL of MeetingSession with ONE change: the predicate that every aggregate of the
-- `tickets` subquery shares (`tickets.attendance`) moved from the FILTER clauses to the subquery's
-- WHERE, so the planner pushes it below the join with users (and into the tickets source's
-- ChangelogNormalize). The compiler change this ablation measures: see bench/README.md.
SELECT
  `meeting`.`doc_id` AS `doc_id`,
  `meeting`.`status` = 'in-session' AS `in_session`,
  CASE
    WHEN `meeting__location`.`doc_id` IS NULL
    THEN CAST(NULL AS STRING)
    ELSE `meeting__location`.`address`
  END AS `address`,
  CASE
    WHEN NOT (
      `meeting`.`status` = 'not-started'
    )
    AND COALESCE(`tickets_agg`.`agg_1`, 0) > 0
    THEN CAST(NULL AS ARRAY<ROW<`name` STRING, `organization` STRING, `hearing_aid_requested` BOOLEAN>>)
    WHEN `meeting`.`status` = 'not-started'
    THEN ARRAY_REMOVE(
      ARRAY[CAST(NULL AS ROW<`name` STRING, `organization` STRING, `hearing_aid_requested` BOOLEAN>)],
      CAST(NULL AS ROW<`name` STRING, `organization` STRING, `hearing_aid_requested` BOOLEAN>)
    )
    ELSE ONTOC_SORT_ROWS(
      COALESCE(
        `tickets_agg`.`agg_0`,
        ARRAY_REMOVE(
          ARRAY[CAST(NULL AS ROW<`name` STRING, `organization` STRING, `hearing_aid_requested` BOOLEAN>)],
          CAST(NULL AS ROW<`name` STRING, `organization` STRING, `hearing_aid_requested` BOOLEAN>)
        )
      ),
      TRUE
    )
  END AS `attending`,
  CASE
    WHEN NOT (
      `meeting`.`status` = 'not-started'
    )
    AND COALESCE(`tickets_agg`.`agg_1`, 0) > 0
    THEN CAST(NULL AS BIGINT)
    WHEN `meeting`.`status` = 'not-started'
    THEN 0
    ELSE COALESCE(`tickets_agg`.`agg_2`, 0)
  END AS `num_hearing_aid_requested`
FROM `meetings` AS `meeting`
LEFT JOIN `locations` AS `meeting__location`
  ON `meeting__location`.`doc_id` = `meeting`.`location`
LEFT JOIN (
  SELECT
    `tickets`.`meeting` AS `root_id`,
    ARRAY_AGG(
      CAST(ROW(
        `tickets__user`.`first_name` || ' ' || `tickets__user`.`last_name`,
        `tickets__user`.`organization`,
        `tickets__user`.`hearing_aid_requested`
      ) AS ROW<`name` STRING, `organization` STRING, `hearing_aid_requested` BOOLEAN>)
    ) AS `agg_0`,
    COUNT(*) FILTER(WHERE
      `tickets__user`.`doc_id` IS NULL) AS `agg_1`,
    COUNT(*) FILTER(WHERE
      `tickets__user`.`hearing_aid_requested`) AS `agg_2`
  FROM `tickets` AS `tickets`
  LEFT JOIN `users` AS `tickets__user`
    ON `tickets__user`.`doc_id` = `tickets`.`user`
  WHERE
    `tickets`.`attendance`
  GROUP BY
    `tickets`.`meeting`
) AS `tickets_agg`
  ON `tickets_agg`.`root_id` = `meeting`.`doc_id`
WHERE
  NOT (
    `meeting`.`status` = 'deleted'
  )

