// The user-assigned managed identity the Function App runs as. User-assigned rather than
// system-assigned so its roles can be granted before the app exists: the host then starts with
// every permission it needs instead of failing until the role assignments land.

@description('Name of the identity.')
param name string

@description('Region of the identity.')
param location string

@description('Tags of the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
