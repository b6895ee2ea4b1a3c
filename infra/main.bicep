// Durable AI Pipeline on Azure: everything `azd up` creates, in one resource group.
//
// The Function App (Flex Consumption, Python 3.11) runs as a user-assigned managed identity.
// No keys or secret-bearing connection strings appear anywhere: every service is reached with
// Entra ID, and local (key) auth is disabled on every service that allows it. The identity gets
// data-plane roles on each resource it uses, scoped to that resource (see modules/app-roles.bicep).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment. Seeds the resource names and is set as the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Azure region of every resource (except Azure OpenAI when openAiLocation is set). Must offer Flex Consumption (and the Durable Task Scheduler when durableTaskBackend selects it).')
// azd asks for this parameter with its region picker and keeps the answer as AZURE_LOCATION.
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Region of the Azure OpenAI account when the models are not offered in location; empty: location.')
param openAiLocation string = ''

@description('Name of the resource group to create; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the person (or CI principal) running azd; azd fills it from AZURE_PRINCIPAL_ID. It gets the data-plane roles needed to index documents, enqueue questions and run the app from a workstation. Empty: no roles for anyone but the app.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal principalId is.')
param principalType string = 'User'

@description('Service Bus queue the starter listens on (PIPELINE_QUEUE_NAME).')
param queueName string = 'questions'

@description('Queue that receives messages that are not valid Questions (PIPELINE_DEAD_LETTER_QUEUE_NAME).')
param deadLetterQueueName string = 'questions-deadletter'

@minValue(1)
@maxValue(100)
@description('Deliveries of a message before Service Bus moves it to the queue\'s own dead-letter sub-queue.')
param maxDeliveryCount int = 10

@description('CloudEvents source attribute of the events the app publishes (PIPELINE_EVENT_SOURCE).')
param eventSource string = '/durable-ai-pipeline'

@description('Name of the Azure AI Search index the app queries (AZURE_SEARCH_INDEX); created by `pipeline index`, not by this template.')
param searchIndexName string = 'documents'

@description('Semantic configuration of the index used to re-rank results (AZURE_SEARCH_SEMANTIC_CONFIGURATION); empty: hybrid ranking only.')
param searchSemanticConfiguration string = ''

@allowed([
  'free'
  'basic'
  'standard'
])
@description('Azure AI Search pricing tier. basic is the smallest tier with the semantic ranker and an SLA; free allows one per subscription.')
param searchSku string = 'basic'

@description('Azure OpenAI data-plane API version the app calls (AZURE_OPENAI_API_VERSION).')
param openAiApiVersion string = '2024-10-21'

@description('Chat model for answer generation.')
param chatModelName string = 'gpt-4o-mini'

@description('Version of the chat model.')
param chatModelVersion string = '2024-07-18'

@description('Deployment type of the chat model: GlobalStandard (pay per token, routed globally) or Standard (regional).')
param chatDeploymentSku string = 'GlobalStandard'

@minValue(1)
@description('Chat deployment capacity in thousands of tokens per minute.')
param chatDeploymentCapacity int = 30

@description('Embedding model; text-embedding-3-small returns 1536-dimensional vectors.')
param embeddingModelName string = 'text-embedding-3-small'

@description('Version of the embedding model.')
param embeddingModelVersion string = '1'

@description('Deployment type of the embedding model.')
param embeddingDeploymentSku string = 'Standard'

@minValue(1)
@description('Embedding deployment capacity in thousands of tokens per minute.')
param embeddingDeploymentCapacity int = 30

@minValue(1)
@maxValue(1000)
@description('Most instances Flex Consumption scales the app out to.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@description('Accept only Entra ID-authenticated telemetry in Application Insights (the app sends it with APPLICATIONINSIGHTS_AUTHENTICATION_STRING).')
param appInsightsDisableLocalAuth bool = true

@description('Daily ingestion cap of the Log Analytics workspace in GB (-1: no cap). Bounds the cost of a runaway log loop.')
param logDailyCapGb int = 1

@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
@description('Where the Durable task hub keeps its state. AzureStorage (default): queues, tables and blobs in the app\'s storage account, nothing more to pay for. DurableTaskScheduler: the managed Durable Task Scheduler, Microsoft\'s recommended backend, with its own dashboard; billed on its own (see durableTaskSchedulerSku and docs/deploy.md). azd: DURABLE_TASK_BACKEND.')
param durableTaskBackend string = 'AzureStorage'

@allowed([
  'Consumption'
  'Dedicated'
])
@description('SKU of the Durable Task Scheduler (only with durableTaskBackend=DurableTaskScheduler): Consumption is billed per action dispatched and costs nothing idle; Dedicated is a fixed monthly charge per capacity unit. azd: DURABLE_TASK_SCHEDULER_SKU.')
param durableTaskSchedulerSku string = 'Consumption'

@minValue(1)
@maxValue(3)
@description('Capacity units of a Dedicated scheduler (3 makes it zone redundant); Consumption ignores it.')
param durableTaskSchedulerCapacity int = 1

@description('Create Azure AI Document Intelligence for `pipeline index` to read scanned PDFs and images with (its prebuilt-layout model, billed per page); false (default) keeps the local parsers for every file. azd: USE_DOCUMENT_INTELLIGENCE.')
param useDocumentIntelligence bool = false

@description('Give the app Azure Service Bus Data Owner on the questions queue only (default), which target-based scaling needs to read the queue length; false keeps the app to Data Receiver, and the scale controller then falls back to a coarser signal.')
param serviceBusOwnerForScaling bool = true

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.functionApp}${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var embeddingDeploymentName = 'embedding'
var chatDeploymentName = 'chat'
// The Durable backend. The task hub keeps host.json's name (DurableAIPipeline) on either backend.
var useDurableTaskScheduler = durableTaskBackend == 'DurableTaskScheduler'
var durableTaskSchedulerName = '${abbrs.durableTaskScheduler}${resourceToken}'
var durableTaskHubName = 'DurableAIPipeline'

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentity}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    appInsightsName: '${abbrs.appInsights}${resourceToken}'
    location: location
    tags: tags
    disableLocalAuth: appInsightsDisableLocalAuth
    dailyCapGb: logDailyCapGb
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageAccount}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBus}${resourceToken}'
    location: location
    tags: tags
    queueName: queueName
    deadLetterQueueName: deadLetterQueueName
    maxDeliveryCount: maxDeliveryCount
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: '${abbrs.eventGridTopic}${resourceToken}'
    location: location
    tags: tags
  }
}

module search 'modules/search.bicep' = {
  name: 'search'
  scope: rg
  params: {
    name: '${abbrs.search}${resourceToken}'
    location: location
    tags: tags
    sku: searchSku
  }
}

module openAi 'modules/openai.bicep' = {
  name: 'openai'
  scope: rg
  params: {
    name: '${abbrs.openAi}${resourceToken}'
    location: !empty(openAiLocation) ? openAiLocation : location
    tags: tags
    embeddingDeploymentName: embeddingDeploymentName
    embeddingModelName: embeddingModelName
    embeddingModelVersion: embeddingModelVersion
    embeddingDeploymentSku: embeddingDeploymentSku
    embeddingDeploymentCapacity: embeddingDeploymentCapacity
    chatDeploymentName: chatDeploymentName
    chatModelName: chatModelName
    chatModelVersion: chatModelVersion
    chatDeploymentSku: chatDeploymentSku
    chatDeploymentCapacity: chatDeploymentCapacity
  }
}

module documentIntelligence 'modules/documentintelligence.bicep' = if (useDocumentIntelligence) {
  name: 'documentintelligence'
  scope: rg
  params: {
    name: '${abbrs.documentIntelligence}${resourceToken}'
    location: location
    tags: tags
  }
}

module durableTask 'modules/durabletask.bicep' = if (useDurableTaskScheduler) {
  name: 'durabletask'
  scope: rg
  params: {
    name: durableTaskSchedulerName
    location: location
    tags: tags
    taskHubName: durableTaskHubName
    skuName: durableTaskSchedulerSku
    capacity: durableTaskSchedulerCapacity
  }
}

// Every setting the app reads on Azure (config/settings.py and the binding expressions of
// triggers/queue_start.py), each from a resource output or a parameter. Identity-based
// connections only: `__credential`/`__clientId` select the user-assigned identity, and
// AZURE_CLIENT_ID points DefaultAzureCredential at it. The Application Insights connection
// string holds an instrumentation key, which is an identifier, not a secret; ingestion itself is
// authenticated with Entra ID through APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
var appSettings = {
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AZURE_CLIENT_ID: identity.outputs.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identity.outputs.clientId}'
  OTEL_SERVICE_NAME: 'durable-ai-pipeline'
  AZURE_OPENAI_ENDPOINT: openAi.outputs.endpoint
  AZURE_OPENAI_EMBEDDING_DEPLOYMENT: openAi.outputs.embeddingDeploymentName
  AZURE_OPENAI_CHAT_DEPLOYMENT: openAi.outputs.chatDeploymentName
  AZURE_OPENAI_API_VERSION: openAiApiVersion
  AZURE_SEARCH_ENDPOINT: search.outputs.endpoint
  AZURE_SEARCH_INDEX: searchIndexName
  AZURE_SEARCH_SEMANTIC_CONFIGURATION: searchSemanticConfiguration
  EVENTGRID_TOPIC_ENDPOINT: eventGrid.outputs.endpoint
  PIPELINE_EVENT_SOURCE: eventSource
  // Which answers cited which passages, for Answer.Stale events: tables in the app's own storage account
  PIPELINE_PROVENANCE_TABLE_ENDPOINT: storage.outputs.tableEndpoint
  PIPELINE_QUEUE_NAME: serviceBus.outputs.queueName
  PIPELINE_DEAD_LETTER_QUEUE_NAME: serviceBus.outputs.deadLetterQueueName
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identity.outputs.clientId
}

// With the Durable Task Scheduler, the host is pointed at it by app settings that override
// host.json (`AzureFunctionsJobHost__<path>` replaces the value at <path>), so host.json itself
// keeps Azure Storage as the default for every other deployment and for local runs. The
// connection string names the endpoint and the identity; it holds no secret.
var durableTaskSchedulerEndpoint = useDurableTaskScheduler ? durableTask.outputs.endpoint : ''
var durableTaskSchedulerSettings = {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
  AzureFunctionsJobHost__extensions__durableTask__hubName: durableTaskHubName
}
var siteSettings = useDurableTaskScheduler ? union(appSettings, durableTaskSchedulerSettings) : appSettings

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.functionPlan}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: siteSettings
  }
  // The host starts as soon as the site exists: it must find its storage and queues readable.
  dependsOn: [
    appRoles
  ]
}

module appRoles 'modules/app-roles.bicep' = {
  name: 'app-roles'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    queueName: serviceBus.outputs.queueName
    deadLetterQueueName: serviceBus.outputs.deadLetterQueueName
    eventGridTopicName: eventGrid.outputs.name
    searchServiceName: search.outputs.name
    openAiAccountName: openAi.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    serviceBusOwnerForScaling: serviceBusOwnerForScaling
    useDurableTaskScheduler: useDurableTaskScheduler
    durableTaskSchedulerName: durableTaskSchedulerName
    durableTaskHubName: durableTaskHubName
  }
  // The task hub must exist before a role can be assigned on it (the names above are known
  // before it is created, so Bicep cannot infer the dependency).
  dependsOn: [
    durableTask
  ]
}

module developerRoles 'modules/developer-roles.bicep' = if (!empty(principalId)) {
  name: 'developer-roles'
  scope: rg
  params: {
    principalId: principalId
    principalType: principalType
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    eventGridTopicName: eventGrid.outputs.name
    searchServiceName: search.outputs.name
    openAiAccountName: openAi.outputs.name
    useDurableTaskScheduler: useDurableTaskScheduler
    durableTaskSchedulerName: durableTaskSchedulerName
    durableTaskHubName: durableTaskHubName
    documentIntelligenceAccountName: useDocumentIntelligence ? documentIntelligence.outputs.name : ''
  }
  dependsOn: [
    durableTask
  ]
}

// ---------------------------------------------------------------------------------------------
// Outputs: azd stores them in the environment (`azd env get-values`), so the CLI and a local
// host can use the deployed services with the developer's own identity.
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.appInsightsConnectionString
output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_EMBEDDING_DEPLOYMENT string = openAi.outputs.embeddingDeploymentName
output AZURE_OPENAI_EMBEDDING_DIMENSIONS int = openAi.outputs.embeddingDimensions
output AZURE_OPENAI_CHAT_DEPLOYMENT string = openAi.outputs.chatDeploymentName
output AZURE_OPENAI_API_VERSION string = openAiApiVersion
output AZURE_SEARCH_ENDPOINT string = search.outputs.endpoint
output AZURE_SEARCH_SERVICE_NAME string = search.outputs.name
output AZURE_SEARCH_INDEX string = searchIndexName
output EVENTGRID_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint
output EVENTGRID_TOPIC_NAME string = eventGrid.outputs.name
output EVENTGRID_TOPIC_ID string = eventGrid.outputs.id
output PIPELINE_EVENT_SOURCE string = eventSource
output PIPELINE_PROVENANCE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output PIPELINE_QUEUE_NAME string = serviceBus.outputs.queueName
output PIPELINE_DEAD_LETTER_QUEUE_NAME string = serviceBus.outputs.deadLetterQueueName
output ServiceBusConnection__fullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output AZURE_DOCUMENT_INTELLIGENCE_ENDPOINT string = useDocumentIntelligence ? documentIntelligence.outputs.endpoint : ''
output DURABLE_TASK_BACKEND string = durableTaskBackend
output DURABLE_TASK_SCHEDULER_ENDPOINT string = durableTaskSchedulerEndpoint
output DURABLE_TASK_SCHEDULER_DASHBOARD_URL string = useDurableTaskScheduler ? durableTask.outputs.dashboardUrl : ''
