CREATE EXTERNAL TABLE sensor_readings (
  device_id string,
  reading struct<temperature:double, humidity:float, ok:boolean>,
  samples array<double>,
  labels map<string,string>,
  battery double,
  calibration decimal(6,3),
  read_at timestamp
)
PARTITIONED BY (site string, hour int)
STORED AS PARQUET
LOCATION 's3://iot-lake/raw/sensor_readings/'
TBLPROPERTIES ('projection.enabled'='true', 'projection.site.type'='enum', 'projection.site.values'='ams,fra',
  'projection.hour.type'='integer', 'projection.hour.range'='0,23', 'projection.hour.digits'='2');
