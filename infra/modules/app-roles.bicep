// The Function App identity's roles: data-plane only, each on the one resource (or queue) it is
// needed for, nothing at resource-group or subscription scope.
//
//   storage account   Blob Data Owner, Queue Data Contributor, Table Data Contributor
//                     (host leases and the Durable task hub; Blob Data Owner also reads the
//                     Flex deployment container; Table Data Contributor also writes the
//                     provenance of published answers, so stale answers need no new role)
//   questions queue   Service Bus Data Receiver (the trigger, and the monitor's peek at its
//                     $deadletterqueue); optionally Data Owner, which lets the scale controller read
//                     the queue length instead of peeking
//   dead-letter queue Service Bus Data Sender (the starter's output binding) and Data Receiver
//                     (GET /api/monitor/dead-letters peeks it: peeking needs Listen, which Send lacks)
//   Event Grid topic  EventGrid Data Sender
//   search service    Search Index Data Reader (the app only queries; `pipeline index` writes
//                     with the developer's identity, see developer-roles.bicep)
//   Azure OpenAI      Cognitive Services OpenAI User (embeddings and chat completions)
//   App Insights      Monitoring Metrics Publisher (Entra ID-authenticated telemetry)
//   Durable task hub  Durable Task Data Contributor, only when the task hub runs on the Durable
//                     Task Scheduler (durabletask.bicep): the host's orchestration and activity
//                     work items, starting and querying runs

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

@description('Storage account of the host and the Durable task hub.')
param storageAccountName string

@description('Service Bus namespace.')
param serviceBusNamespaceName string

@description('Queue the trigger receives from.')
param queueName string

@description('Queue the starter writes rejected messages to.')
param deadLetterQueueName string

@description('Event Grid topic the app publishes to.')
param eventGridTopicName string

@description('Azure AI Search service the app queries.')
param searchServiceName string

@description('Azure OpenAI account the app calls.')
param openAiAccountName string

@description('Application Insights component the app sends telemetry to.')
param appInsightsName string

@description('Also grant Azure Service Bus Data Owner on the questions queue, for exact queue-length scaling.')
param serviceBusOwnerForScaling bool = false

@description('The task hub runs on the Durable Task Scheduler: grant Durable Task Data Contributor on it.')
param useDurableTaskScheduler bool = false

@description('Durable Task Scheduler holding the task hub (its name is known before it exists; used only with useDurableTaskScheduler).')
param durableTaskSchedulerName string = ''

@description('Task hub on that scheduler.')
param durableTaskHubName string = ''

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  searchIndexDataReader: '1407120a-92aa-4202-b7e9-c0e197c71c8f'
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName

  resource questions 'queues' existing = {
    name: queueName
  }

  resource deadLetters 'queues' existing = {
    name: deadLetterQueueName
  }
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

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource serviceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::questions.id, principalId, roles.serviceBusDataReceiver)
  scope: serviceBus::questions
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource serviceBusDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (serviceBusOwnerForScaling) {
  name: guid(serviceBus::questions.id, principalId, roles.serviceBusDataOwner)
  scope: serviceBus::questions
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource serviceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::deadLetters.id, principalId, roles.serviceBusDataSender)
  scope: serviceBus::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Listen on the app's own dead-letter queue, for the monitor feed's peek (it never receives or settles).
resource serviceBusDeadLetterReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::deadLetters.id, principalId, roles.serviceBusDataReceiver)
  scope: serviceBus::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource eventGridDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, roles.eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource searchIndexDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, principalId, roles.searchIndexDataReader)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.searchIndexDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(openAi.id, principalId, roles.cognitiveServicesOpenAiUser)
  scope: openAi
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAiUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Scoped to the task hub, not the scheduler: a second hub on the same scheduler stays out of reach.
resource durableTaskDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useDurableTaskScheduler) {
  name: guid(scheduler::taskHub.id, principalId, roles.durableTaskDataContributor)
  scope: scheduler::taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
