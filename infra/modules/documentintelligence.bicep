// Azure AI Document Intelligence (only with useDocumentIntelligence): `pipeline index` reads scanned PDFs
// and images with its prebuilt-layout model. Keys are disabled; the custom subdomain is what makes Entra ID
// token authentication possible. The app itself never calls it: indexing runs with the developer's identity
// (developer-roles.bicep grants Cognitive Services User on this account).

@description('Name (and custom subdomain) of the account.')
param name string

@description('Region of the account.')
param location string

@description('Tags of the account.')
param tags object

@allowed([
  'F0'
  'S0'
])
@description('Pricing tier: S0 is billed per page analysed; F0 (one per subscription) reads the first two pages of a file.')
param sku string = 'S0'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'FormRecognizer'
  sku: {
    name: sku
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
