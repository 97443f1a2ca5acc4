// Loaded by the `e2e-postgres` jest project before each test file: startGateway() then gives
// every gateway its own fresh PostgreSQL database instead of a SQLite file.
process.env.PARLEY_E2E_DB = 'postgres';
