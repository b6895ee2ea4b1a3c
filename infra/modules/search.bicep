// Azure AI Search service for hybrid (keyword + vector) retrieval, with the free semantic ranker
// plan. Keys are disabled: callers use Entra ID and role assignments only.

@description('Name of the search service.')
param name string

@description('Region of the service.')
param location string

@description('Tags of the service.')
param tags object

@allowed([
  'free'
  'basic'
  'standard'
])
@description('Pricing tier.')
param sku string = 'basic'

resource search 'Microsoft.Search/searchServices@2023-11-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    replicaCount: 1
    partitionCount: 1
    hostingMode: 'default'
    publicNetworkAccess: 'enabled'
    // Role-based access only; authOptions must be left out when local auth is disabled.
    disableLocalAuth: true
    semanticSearch: sku == 'free' ? 'disabled' : 'free'
  }
}

output id string = search.id
output name string = search.name
output endpoint string = 'https://${search.name}.search.windows.net'
