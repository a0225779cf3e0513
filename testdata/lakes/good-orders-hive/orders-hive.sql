-- Orders written by the checkout service's own Kafka → S3 sink.
CREATE EXTERNAL TABLE IF NOT EXISTS shop.orders (
  `order_id` string COMMENT 'UUID',
  `customer_id` bigint,
  `amount` decimal(12,2),
  `currency` string,
  `items` array<struct<sku:string, qty:int, price:decimal(12,2)>>,
  `ordered_at` timestamp
)
PARTITIONED BY (`dt` string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://shop-lake/orders/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2024-05-01,NOW',
  'storage.location.template'='s3://shop-lake/orders/dt=${dt}/'
);
