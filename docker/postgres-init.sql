-- One server, two databases: Airflow's metadata and the Corridor warehouse.
create role airflow login password 'airflow';
create database airflow owner airflow;
create role corridor login password 'corridor';
create database corridor owner corridor;
