// Roles for the person (or CI principal) who ran azd, so the same code can use the deployed
// services from a workstation with `az login`: `pipeline index` creates and fills the search
// index, `pipeline enqueue` sends questions, `pipeline dead-letters` reads rejected messages, and
// a local host can embed, search, generate and publish as the app does. With the Durable Task
// Scheduler, Durable Task Data Contributor on the task hub opens its dashboard (runs, histories,
// and the actions on them: terminate, restart, purge). With Document Intelligence, Cognitive Services
// User on it lets `pipeline index` read scanned PDFs and images. Storage Table Data Contributor on the
// app's storage account lets `pipeline index` read which answers cited a re-indexed document and record
// their Answer.Stale events (the provenance tables, providers/azure/table_provenance.py).

@description('Principal (object) id of the developer.')
param principalId string

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal.')
param principalType string = 'User'

@description('The Function App\'s storage account, which holds the provenance tables.')
param storageAccountName string

@description('Service Bus namespace.')
param serviceBusNamespaceName string

@description('Event Grid topic.')
param eventGridTopicName string

@description('Azure AI Search service.')
param searchServiceName string

@description('Azure OpenAI account.')
param openAiAccountName string

@description('The task hub runs on the Durable Task Scheduler: grant Durable Task Data Contributor on it.')
param useDurableTaskScheduler bool = false

@description('Durable Task Scheduler holding the task hub (used only with useDurableTaskScheduler).')
param durableTaskSchedulerName string = ''

@description('Task hub on that scheduler.')
param durableTaskHubName string = ''

@description('Azure AI Document Intelligence account `pipeline index` reads scanned PDFs and images with; empty when not deployed.')
param documentIntelligenceAccountName string = ''

var roles = {
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  searchIndexDataContributor: '8ebe5a00-799e-43f5-93ac-243d3dce84a7'
  searchServiceContributor: '7ca78c08-252a-4471-8644-bb5ff32d4ba0'
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource topic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: eventGridTopicName
}

resource search 'Microsoft.Search/searchServices@2023-11-01' existing = {
  name: searchServiceName
}

resource openAi 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: openAiAccountName
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = {
  name: durableTaskSchedulerName

  resource taskHub 'taskHubs' existing = {
    name: durableTaskHubName
  }
}

// The provenance tables: `pipeline index` reads which answers cited a changed document and records the Stale events.
resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: principalType
  }
}

resource serviceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, principalId, roles.serviceBusDataSender)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: principalId
    principalType: principalType
  }
}

resource serviceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, principalId, roles.serviceBusDataReceiver)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: principalId
    principalType: principalType
  }
}

resource eventGridDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, roles.eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: principalId
    principalType: principalType
  }
}

resource searchIndexDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, principalId, roles.searchIndexDataContributor)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.searchIndexDataContributor)
    principalId: principalId
    principalType: principalType
  }
}

resource searchServiceContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, principalId, roles.searchServiceContributor)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.searchServiceContributor)
    principalId: principalId
    principalType: principalType
  }
}

resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(openAi.id, principalId, roles.cognitiveServicesOpenAiUser)
  scope: openAi
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAiUser)
    principalId: principalId
    principalType: principalType
  }
}

// Scoped to the task hub, not the scheduler: a second hub on the same scheduler stays out of reach.
resource durableTaskDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useDurableTaskScheduler) {
  name: guid(scheduler::taskHub.id, principalId, roles.durableTaskDataContributor)
  scope: scheduler::taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: principalId
    principalType: principalType
  }
}

resource documentIntelligence 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = if (!empty(documentIntelligenceAccountName)) {
  name: documentIntelligenceAccountName
}

// Analyse documents with the layout model (the data-plane role Document Intelligence documents for Entra ID callers).
resource documentIntelligenceUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(documentIntelligenceAccountName)) {
  name: guid(documentIntelligence.id, principalId, roles.cognitiveServicesUser)
  scope: documentIntelligence
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesUser)
    principalId: principalId
    principalType: principalType
  }
}
