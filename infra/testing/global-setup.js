// Placeholder replaced when the embedded PostgreSQL lands.
module.exports = async () => {};
