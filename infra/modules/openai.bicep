// Azure OpenAI account with the embedding and chat deployments the pipeline calls. Keys are
// disabled; the custom subdomain is what makes Entra ID token authentication possible.

@description('Name (and custom subdomain) of the account.')
param name string

@description('Region of the account: one that offers both models with the chosen deployment types.')
param location string

@description('Tags of the account.')
param tags object

@description('Name of the embedding deployment (AZURE_OPENAI_EMBEDDING_DEPLOYMENT).')
param embeddingDeploymentName string

@description('Embedding model name.')
param embeddingModelName string = 'text-embedding-3-small'

@description('Embedding model version.')
param embeddingModelVersion string = '1'

@description('Deployment type of the embedding model (Standard, GlobalStandard).')
param embeddingDeploymentSku string = 'Standard'

@description('Embedding capacity in thousands of tokens per minute.')
param embeddingDeploymentCapacity int = 30

@description('Name of the chat deployment (AZURE_OPENAI_CHAT_DEPLOYMENT).')
param chatDeploymentName string

@description('Chat model name.')
param chatModelName string = 'gpt-4o-mini'

@description('Chat model version.')
param chatModelVersion string = '2024-07-18'

@description('Deployment type of the chat model (GlobalStandard, Standard).')
param chatDeploymentSku string = 'GlobalStandard'

@description('Chat capacity in thousands of tokens per minute.')
param chatDeploymentCapacity int = 30

// Vector width of each embedding model, recorded so the index can be created to match.
var embeddingDimensions = {
  'text-embedding-3-small': 1536
  'text-embedding-3-large': 3072
  'text-embedding-ada-002': 1536
}

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource embedding 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: embeddingDeploymentName
  sku: {
    name: embeddingDeploymentSku
    capacity: embeddingDeploymentCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: embeddingModelName
      version: embeddingModelVersion
    }
  }
}

resource chat 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: chatDeploymentName
  sku: {
    name: chatDeploymentSku
    capacity: chatDeploymentCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: chatModelName
      version: chatModelVersion
    }
  }
  // An account takes one deployment change at a time; in parallel the second one fails.
  dependsOn: [
    embedding
  ]
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
output embeddingDeploymentName string = embedding.name
output embeddingDimensions int = contains(embeddingDimensions, embeddingModelName) ? embeddingDimensions[embeddingModelName] : 1536
output chatDeploymentName string = chat.name
