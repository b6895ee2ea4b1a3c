// The Durable Task Scheduler: Azure's managed backend for Durable Functions, with its own
// dashboard. Created only when main.bicep's durableTaskBackend is 'DurableTaskScheduler'; the
// default keeps the task hub in the app's storage account (queues, tables, blobs).
//
// The app reaches it over gRPC with its user-assigned identity (Durable Task Data Contributor on
// the task hub, granted in app-roles.bicep); no key exists for this service at all.

@description('Name of the scheduler (3-64 letters, digits and hyphens).')
param name string

@description('Region of the scheduler. Not every region offers it: `az provider show --namespace Microsoft.DurableTask --query "resourceTypes[?resourceType==\'schedulers\'].locations | [0]"` lists those that do.')
param location string

@description('Tags of the scheduler.')
param tags object

@description('Name of the task hub; the same as host.json\'s hubName, so the dashboard and the app agree.')
param taskHubName string

@allowed([
  'Consumption'
  'Dedicated'
])
@description('Consumption: billed per action dispatched, nothing while idle (up to 500 actions a second, 30 days of retained history). Dedicated: a fixed monthly charge per capacity unit, whether used or not (2,000 actions a second each, up to 90 days).')
param skuName string = 'Consumption'

@minValue(1)
@maxValue(3)
@description('Capacity units of the Dedicated SKU (3 makes it zone redundant); ignored by Consumption, which has none.')
param capacity int = 1

@description('Addresses allowed to reach the scheduler; an empty list denies everyone, the app included. Access is still only for identities with a Durable Task role.')
param ipAllowlist array = [
  '0.0.0.0/0'
]

// Consumption has no capacity units: the property is sent only for Dedicated.
var dedicatedSku = {
  name: 'Dedicated'
  capacity: capacity
}
var consumptionSku = {
  name: 'Consumption'
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: skuName == 'Dedicated' ? dedicatedSku : consumptionSku
  }

  resource taskHub 'taskHubs' = {
    name: taskHubName
  }
}

output id string = scheduler.id
output name string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = scheduler::taskHub.name
output dashboardUrl string = scheduler::taskHub.properties.dashboardUrl
