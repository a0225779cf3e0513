CREATE EXTERNAL TABLE IF NOT EXISTS `stock_ticks` (
  `symbol` string,
  `trade_date` date,
  `open` double,
  `high` double,
  `low` double,
  `close` double,
  `adj_close` double,
  `volume` bigint,
  `close_usd` double,
  `event_time` timestamp,
  `kafka_partition` int,
  `kafka_offset` bigint
)
PARTITIONED BY (
  `dt` string,
  `hour` string
)
STORED AS PARQUET
LOCATION 's3://lake-bucket/prod/stock_ticks/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2024-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'projection.hour.type'='integer',
  'projection.hour.range'='0,23',
  'projection.hour.digits'='2',
  'storage.location.template'='s3://lake-bucket/prod/stock_ticks/dt=${dt}/hour=${hour}/'
);
