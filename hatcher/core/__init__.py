"""The lazy client object model: client, organizations, repositories, platforms, users, teams, bundles."""
